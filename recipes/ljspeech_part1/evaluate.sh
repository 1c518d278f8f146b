#!/usr/bin/env bash
# The evaluation both ljspeech_part1 chains report: Harvard lists 1-10 next to the held-out
# recordings, lists 11-20 (what checkpoints are chosen on), and hard_dev.txt with and without
# the monotonic window. One definition, so that the two chains' tables stay comparable.
#     bash recipes/ljspeech_part1/evaluate.sh CHECKPOINT OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -ne 2 ]; then echo "usage: $0 CHECKPOINT OUT_DIR" >&2; exit 2; fi
checkpoint=$1; out=$2
shared=../shared
tts eval --checkpoint "$checkpoint" --sentences "$shared/eval/harvard_dev.txt" \
    --out-dir "$out/eval_harvard" --references data/ljspeech_part1/test.jsonl
tts eval --checkpoint "$checkpoint" --sentences recipes/ljspeech_part1/harvard_select.txt \
    --out-dir "$out/eval_select"
tts eval --checkpoint "$checkpoint" --sentences "$shared/eval/hard_dev.txt" --out-dir "$out/eval_hard"
tts eval --checkpoint "$checkpoint" --sentences "$shared/eval/hard_dev.txt" \
    --out-dir "$out/eval_hard_monotonic" --monotonic
