"""Teacher-forced mels for HiFi-GAN fine-tuning (``tts dump-mels``).

The acoustic model's predictions are slightly blurrier than real features; a
vocoder fine-tuned on them (input = predicted mel, target = the real recording)
learns to undo that. Teacher forcing keeps every predicted frame aligned with
the real audio, so each file has exactly the ground truth's frame count::

    tts dump-mels --checkpoint exp/run/best.pt --manifest-dir data/ljspeech --out data/gta
    tts train-vocoder ... --set train.mels_dir=data/gta

Output: ``ID.npy`` float32 (n_mels, T) raw (denormalised) postnet log-mels for
every row of ``all.jsonl``, and ``info.json`` naming the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from tts.checkpoint import CheckpointError, load_checkpoint
from tts.data import FrameBudgetSampler, TTSDataset, collate
from tts.text import Tokenizer
from tts.train import TrainingError, build_model, pick_device, seed_everything
from tts.vocoder.train import check_manifest_audio

log = logging.getLogger(__name__)


@torch.no_grad()
def dump_mels(
    checkpoint: str | Path,
    out_dir: str | Path,
    manifest_dir: str | Path | None = None,
    device: str = "auto",
    seed: int = 1234,
) -> int:
    """Write one teacher-forced mel per manifest row; returns how many were written.

    The model runs in eval mode, but the decoder prenet keeps the dropout it also
    uses at inference (``model.prenet_dropout_at_inference``), so the vocoder is
    fine-tuned on the same kind of mels it will see; ``seed`` makes that repeatable.
    """
    device = pick_device(device, 0)
    state = load_checkpoint(checkpoint, map_location=device)
    config = state["config"]
    manifest_dir = Path(manifest_dir or config.data.manifest_dir)
    check_manifest_audio(manifest_dir, config.audio)
    model = build_model(config).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    seed_everything(seed)

    dataset = TTSDataset(manifest_dir / "all.jsonl", Tokenizer(config.text))
    frames = [dataset.frames(i) for i in range(len(dataset))]
    sampler = FrameBudgetSampler(frames, max(config.train.batch_frames, max(frames)), shuffle=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for indices in tqdm(sampler, desc="dump-mels", unit="batch"):
        batch = collate([dataset[i] for i in indices]).to(device)
        output = model(
            batch.tokens, batch.token_lengths, model.normalize(batch.mels), batch.mel_lengths
        )
        mels = model.denormalize(output.mel_after).float().cpu()
        for i, uid in enumerate(batch.ids):
            length = int(batch.mel_lengths[i])
            _save(out_dir / f"{uid}.npy", mels[i, :length].T.numpy())
            written += 1
    info = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "step": state["step"],
        "manifest": str((manifest_dir / "all.jsonl").resolve()),
        "items": written,
        "n_mels": config.audio.n_mels,
        "seed": seed,
    }
    (out_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    return written


def _save(path: Path, mel: np.ndarray) -> None:
    """Atomic .npy write, so a killed run never leaves a truncated file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(mel, dtype=np.float32))
    os.replace(tmp, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="acoustic model checkpoint")
    parser.add_argument(
        "--manifest-dir", default=None, help="prepared data (default: the checkpoint's)"
    )
    parser.add_argument("--out", required=True, help="folder for ID.npy mels")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--seed", type=int, default=1234, help="seed for the prenet dropout")


def run(args: argparse.Namespace) -> int:
    try:
        count = dump_mels(args.checkpoint, args.out, args.manifest_dir, args.device, args.seed)
    except (CheckpointError, FileNotFoundError, TrainingError, ValueError) as exc:
        log.error("%s", exc)
        return 1
    log.info("wrote %d teacher-forced mels to %s", count, args.out)
    return 0
