#!/usr/bin/env bash
# An earlier default voice (run_short.sh now makes the bundled one, better, in about 3 h 15 min),
# on the 2-core CPU alone: flite pre-training with the context head and
# path loss -> ljspeech_part1 fine-tuning with them -> duration decoding on ljspeech_part1 ->
# sequential scheduled sampling -> free-running training -> 5000 more sentences spoken by flite
# -> the same sentences read as espeak-ng phonemes -> 5000 more flite sentences read as
# phonemes -> back to ljspeech_part1 with that encoder frozen, half the batches still flite's
# (a second speaker), decoded without prenet dropout -> synthesis -> evaluation -> fp16 export.
# Needs Debian's flite for stage 1 and espeak-ng from stage 8 on (`apt-get install -y flite
# espeak-ng`; `make test` installs both).
# Runs unattended and resumes where it stopped (every training stage uses --resume):
#     nohup bash recipes/ljspeech_part1/run.sh > exp/ljspeech_part1.log 2>&1 &
#     bash recipes/ljspeech_part1/run.sh --stage 12 --stop-stage 12   # only evaluate
# Measured on the 2-core CPU (the original runs, then the rerun in a clean clone where it got
# that far): stage 1 22 / 14 min (flite: 8–9 min per 5000 sentences), stage 2 28 / 38 min
# (1.1–1.5 s/step), stage 3 55 / 65 min, stage 4 29 / 32 min, stage 5 15 / 18 min, stage 6
# 12 / 14 min, stage 7 about 70 min, stage 8 about 90 min, stage 9 about 29 min, stage 10
# about 13 min: 6 to 7 hours in all. Checkpoints were chosen on harvard_select.txt (Harvard lists 11-20), and
# harvard_dev.txt is only reported. The single-speaker last stages (conf/lj_phonemes_back.yaml for phonemes,
# conf/lj_durations_back.yaml for characters) and the earlier
# voices' stages (conf/pretrain_flite.yaml, conf/pretrain_flite_long.yaml on a GPU,
# conf/small.yaml) are kept for the tables in docs/experiments.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=1; stop_stage=100
. recipes/options.sh "$@"
shared=../shared
conf=recipes/ljspeech_part1/conf
pretrain=exp/flite_path
finetune=exp/ljspeech_part1_path
durations=exp/ljspeech_part1_durations
sequential=exp/ljspeech_part1_durations_seq
free=exp/ljspeech_part1_durations_free
flite_text=exp/flite_ext_durations
phonemes=exp/flite_ext_phonemes
phonemes10k=exp/flite_ext10k_phonemes
exp=exp/ljspeech_part1_mixed
voice_from=$exp/checkpoint_00000600.pt
voice=$exp/voice_fp16.pt

if run_stage 1; then echo "stage 1: prepare features (ljspeech_part1, flite_slt_lj, 5000 and then 10000 new flite sentences; 22050 Hz)"
    tts prepare "$shared/data/flite_slt_lj" --out data/flite_slt_lj --config "$conf/flite_path.yaml" --workers 2
    tts prepare "$shared/data/ljspeech_part1" --out data/ljspeech_part1 --config "$conf/lj_path.yaml" --workers 2
    tts flite-corpus "$shared/data/ljspeech_transcripts.psv" --out data/flite_ext_corpus --count 5000 \
        --exclude "$shared/data/ljspeech_part1" --workers 2
    tts prepare data/flite_ext_corpus --out data/flite_ext --config "$conf/flite_ext_durations.yaml" --workers 2
    # A seeded shuffle picks the sentences: 10000 keeps the first 5000 and adds 5000 new ones.
    tts flite-corpus "$shared/data/ljspeech_transcripts.psv" --out data/flite_ext_corpus --count 10000 \
        --exclude "$shared/data/ljspeech_part1" --workers 2
    tts prepare data/flite_ext_corpus --out data/flite_ext10k --config "$conf/flite_ext_durations.yaml" --workers 2
fi
if run_stage 2; then echo "stage 2: pre-train on flite_slt_lj (synthetic voice) with the context head and path loss"
    tts train --config "$conf/flite_path.yaml" --out "$pretrain" --resume
fi
if run_stage 3; then echo "stage 3: fine-tune on ljspeech_part1 (init from $pretrain)"
    tts train --config "$conf/lj_path.yaml" --out "$finetune" --resume
fi
if run_stage 4; then echo "stage 4: duration decoding on ljspeech_part1 (init from $finetune)"
    tts train --config "$conf/lj_durations.yaml" --out "$durations" --resume
fi
if run_stage 5; then echo "stage 5: sequential scheduled sampling (init from $durations)"
    tts train --config "$conf/lj_durations_seq.yaml" --out "$sequential" --resume
fi
if run_stage 6; then echo "stage 6: free-running training, every step reads its own frame (init from $sequential)"
    tts train --config "$conf/lj_durations_free.yaml" --out "$free" --resume
fi
if run_stage 7; then echo "stage 7: duration decoding on 5000 flite sentences, for the text (init from $free)"
    tts train --config "$conf/flite_ext_durations.yaml" --out "$flite_text" --resume
fi
if run_stage 8; then echo "stage 8: the same flite sentences read as phonemes (init from $flite_text)"
    tts train --config "$conf/flite_ext_phonemes.yaml" --out "$phonemes" --resume
fi
if run_stage 9; then echo "stage 9: 5000 more flite sentences read as phonemes (init from $phonemes)"
    tts train --config "$conf/flite_ext10k_phonemes.yaml" --out "$phonemes10k" --resume
fi
if run_stage 10; then echo "stage 10: back to ljspeech_part1 as speaker 0, flite_ext10k as speaker 1, encoder frozen (init from $phonemes10k)"
    tts train --config "$conf/lj_phonemes_mixed.yaml" --out "$exp" --resume
fi
if run_stage 11; then echo "stage 11: synthesize Harvard sentences with alignment plots"
    tts synthesize --checkpoint "$voice_from" --text-file "$shared/eval/harvard_dev.txt" \
        --out-dir "$exp/synth_harvard" --plot --seed 0
fi
if run_stage 12; then echo "stage 12: evaluate (intelligibility, robustness with and without the constraint)"
    bash recipes/ljspeech_part1/evaluate.sh "$voice_from" "$exp"
fi
if run_stage 13; then echo "stage 13: export the fp16 voice (tts/pretrained/ holds run_short.sh's)"
    tts export --checkpoint "$voice_from" --out "$voice"
fi
