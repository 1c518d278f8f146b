#!/usr/bin/env bash
# The default voice, on the 2-core CPU alone: the phoneme voice from scratch on 10000 flite
# sentences (path loss) -> duration decoding on them -> 1500 more of those steps without dropout
# -> back to ljspeech_part1 with the encoder frozen, half the batches still flite's, with
# scheduled sampling -> evaluation -> export into tts/pretrained/.
# Needs Debian's flite and espeak-ng (`make test` installs both).
# Runs unattended and resumes where it stopped (every training stage uses --resume):
#     nohup bash recipes/ljspeech_part1/run_short.sh > exp/short.log 2>&1 &
#     bash recipes/ljspeech_part1/run_short.sh --stage 6 --stop-stage 6   # only evaluate
# Measured on the 2-core CPU, nothing else running: stage 1 9 min, stage 2 25 min (1.0 s/step),
# stage 3 about 2 h 25 min (steps 1-3000 in 53 min from a clean clone, 3001-7000 in 64 min and
# 7001-8500 in 27 min, each resumed in the same folder), stage 4 20 min, stage 5 about 11 min,
# stage 6 4-8 min: about 3 h 35 min. Step 600 of stage 5 is the bundled voice (docs/experiments.md,
# "The short chain, run longer", "1500 more duration steps" and "Dropout off").
# recipes/ljspeech_part1/run.sh is the longer chain of an earlier bundled voice.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1; stop_stage=100
. recipes/options.sh "$@"
shared=../shared
conf=recipes/ljspeech_part1/conf
exp=exp/short_mixed
voice_from=$exp/checkpoint_00000600.pt
voice=tts/pretrained/ljspeech_part1_small.pt

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
# The model underfits (validation loss no higher than training loss), so the last 1500 duration
# steps run without dropout (the decoder prenet's stays), resumed in the same folder.
if run_stage 4; then echo "stage 4: duration decoding to step 10000 without dropout"
    tts train --config "$conf/short_durations.yaml" --out exp/short_durations --resume \
        --set train.max_steps=10000 model.dropout=0 model.attention_dropout=0 \
        model.encoder_prenet_dropout=0 model.postnet_dropout=0
fi
# run.sh's last stage, plus parallel scheduled sampling capped at p=0.3 from step 190. It starts
# from stage 4's last checkpoint (a run folder as train.init_from must have finished its max_steps).
if run_stage 5; then echo "stage 5: back to ljspeech_part1 as speaker 0, flite_ext10k as speaker 1, encoder frozen, scheduled sampling"
    tts train --config "$conf/lj_phonemes_mixed.yaml" --out "$exp" --resume \
        --set train.init_from=exp/short_durations train.sampling.schedule=linear \
        train.sampling.start_step=100 train.sampling.ramp_steps=300 train.sampling.max_prob=0.3
fi
if run_stage 6; then echo "stage 6: evaluate (intelligibility, robustness with and without the constraint)"
    bash recipes/ljspeech_part1/evaluate.sh "$voice_from" "$exp"
fi
if run_stage 7; then echo "stage 7: export the fp16 default voice into the package"
    tts export --checkpoint "$voice_from" --out "$voice"
fi
