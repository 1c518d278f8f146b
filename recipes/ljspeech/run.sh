#!/usr/bin/env bash
# LJSpeech recipe: download -> prepare -> train -> synthesize -> evaluate.
# Usage: recipes/ljspeech/run.sh [--stage N] [--stop-stage N] [--ngpu N]
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=0; stop_stage=100; ngpu=1
. recipes/options.sh "$@"
conf=recipes/ljspeech/conf/transformer.yaml
exp=exp/ljspeech_transformer

if run_stage 0; then echo "stage 0: download LJSpeech-1.1"
    python -m data_prep.ljspeech --out downloads
fi
if run_stage 1; then echo "stage 1: prepare features"
    tts prepare downloads/LJSpeech-1.1 --out data/ljspeech --config "$conf" --workers "$(nproc)"
fi
if run_stage 2; then echo "stage 2: train (resumable)"
    torchrun --nproc_per_node="$ngpu" -m tts.cli train --config "$conf" --out "$exp" --resume
fi
if run_stage 3; then echo "stage 3: synthesize Harvard sentences"
    tts synthesize --checkpoint "$exp/best.pt" --text-file ../shared/eval/harvard_dev.txt \
        --out-dir "$exp/synth" --plot
fi
if run_stage 4; then echo "stage 4: evaluate"
    tts eval --checkpoint "$exp/best.pt" --sentences ../shared/eval/harvard_dev.txt \
        --out-dir "$exp/eval_harvard" --references data/ljspeech/test.jsonl
fi
