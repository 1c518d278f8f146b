#!/usr/bin/env bash
# CPU recipe on ../shared/data/ljspeech_part1: prepare -> train -> synthesize -> evaluate.
# Runs unattended and resumes where it stopped: nohup recipes/ljspeech_part1/run.sh > exp.log &
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1; stop_stage=100
while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
corpus=../shared/data/ljspeech_part1
conf=recipes/ljspeech_part1/conf/small.yaml
exp=exp/ljspeech_part1_small
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if run_stage 1; then echo "stage 1: prepare features"
    tts prepare "$corpus" --out data/ljspeech_part1 --config "$conf" --workers 2
fi
if run_stage 2; then echo "stage 2: train (resumable)"
    tts train --config "$conf" --out "$exp" --resume
fi
if run_stage 3; then echo "stage 3: synthesize Harvard sentences"
    tts synthesize --checkpoint "$exp/best.pt" --text-file ../shared/eval/harvard_dev.txt \
        --out-dir "$exp/synth" --plot
fi
if run_stage 4; then echo "stage 4: evaluate"
    tts eval --checkpoint "$exp/best.pt" --sentences ../shared/eval/harvard_dev.txt \
        --out-dir "$exp/eval_harvard" --references data/ljspeech_part1/test.jsonl
fi
