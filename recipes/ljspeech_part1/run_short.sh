#!/usr/bin/env bash
# The short chain to the phoneme voice, on the 2-core CPU alone: the phoneme voice from
# scratch on 10000 flite sentences (path loss) -> duration decoding on them -> back to
# ljspeech_part1 with the encoder frozen, half the batches still flite's -> evaluation.
# Needs Debian's flite and espeak-ng (`make test` installs both).
# Measured from a clean clone on the 2-core CPU, nothing else running: stage 1 9 min, stage 2
# 25 min (1.0 s/step), stage 3 53 min, stage 4 8.5 min, stage 5 3.5 min; 1 h 39 min in all.
# Step 600 scores WER 33.5 % / CER 19.0 % on harvard_dev.txt, about 5 points behind run.sh's
# voice (docs/experiments.md, "A short chain: phonemes from the start").
#     nohup bash recipes/ljspeech_part1/run_short.sh > exp/short.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1; stop_stage=100
. recipes/options.sh "$@"
shared=../shared
conf=recipes/ljspeech_part1/conf
exp=exp/short_mixed
voice_from=$exp/checkpoint_00000600.pt

if run_stage 1; then echo "stage 1: prepare features (ljspeech_part1, 10000 new flite sentences; 22050 Hz)"
    tts prepare "$shared/data/ljspeech_part1" --out data/ljspeech_part1 --config "$conf/lj_path.yaml" --workers 2
    tts flite-corpus "$shared/data/ljspeech_transcripts.psv" --out data/flite_ext_corpus --count 10000 \
        --exclude "$shared/data/ljspeech_part1" --workers 2
    tts prepare data/flite_ext_corpus --out data/flite_ext10k --config "$conf/short_path.yaml" --workers 2
fi
if run_stage 2; then echo "stage 2: the phoneme voice from scratch on flite_ext10k, context head and path loss"
    tts train --config "$conf/short_path.yaml" --out exp/short_path --resume
fi
if run_stage 3; then echo "stage 3: duration decoding on flite_ext10k"
    tts train --config "$conf/short_durations.yaml" --out exp/short_durations --resume
fi
if run_stage 4; then echo "stage 4: back to ljspeech_part1 as speaker 0, flite_ext10k as speaker 1, encoder frozen"
    tts train --config "$conf/lj_phonemes_mixed.yaml" --out "$exp" --resume \
        --set train.init_from=exp/short_durations/checkpoint_00003000.pt
fi
if run_stage 5; then echo "stage 5: evaluate"
    tts eval --checkpoint "$voice_from" --sentences "$shared/eval/harvard_dev.txt" \
        --out-dir "$exp/eval_harvard" --references data/ljspeech_part1/test.jsonl
    tts eval --checkpoint "$voice_from" --sentences recipes/ljspeech_part1/harvard_select.txt \
        --out-dir "$exp/eval_select"
fi
