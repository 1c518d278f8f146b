"""Steps until the cross-attention is diagonal, with and without guided attention.

Two training runs on the same real data with the same seed, differing only in
the guided-attention weight; prints one table. Example (CPU, ~20 min):

    python benchmarks/alignment.py --data data/ljspeech_part1 --steps 600 --items 32
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from tts.config import load_config
from tts.train import train

SMALL = [
    "model.d_model=128",
    "model.num_heads=2",
    "model.ffn_dim=512",
    "model.encoder_layers=2",
    "model.decoder_layers=2",
    "model.decoder_prenet_dim=128",
    "model.postnet_channels=128",
    "model.reduction_factor=3",
]


def steps_to_diagonal(log_path: Path, threshold: float) -> int | None:
    """First logged step whose best-head diagonality reaches ``threshold``."""
    for line in log_path.read_text().splitlines():
        row = json.loads(line)
        if row["train/diagonality"] >= threshold:
            return int(row["step"])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="prepared data folder (tts prepare output)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--items", type=int, default=32, help="training utterances to use")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="diagonality counted as aligned"
    )
    parser.add_argument("--guided-weight", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for label, weight in (("guided attention", args.guided_weight), ("no guided attention", 0.0)):
        overrides = [
            f"data.manifest_dir={args.data}",
            *SMALL,
            f"train.max_steps={args.steps}",
            "train.log_every=10",
            f"train.val_every={args.steps}",
            f"train.checkpoint_every={args.steps}",
            "train.warmup_steps=100",
            f"train.loss.guided_weight={weight}",
            *args.set,
        ]
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            train(load_config(None, overrides), out, max_items=args.items)
            seconds = time.perf_counter() - start
            log = Path(out) / "train_log.jsonl"
            final = json.loads(log.read_text().splitlines()[-1])
            rows.append(
                (
                    label,
                    steps_to_diagonal(log, args.threshold),
                    final["train/diagonality"],
                    final["train/mel_after"],
                    seconds,
                )
            )

    print(
        f"\nsteps until best-head diagonality >= {args.threshold} "
        f"({args.items} utterances, {args.steps} steps, same seed)\n"
    )
    print("| run | steps to diagonal | final diagonality | final mel L1 (after) | wall s |")
    print("|---|---|---|---|---|")
    for label, steps, diag, l1, seconds in rows:
        reached = str(steps) if steps is not None else f"not within {args.steps}"
        print(f"| {label} | {reached} | {diag:.3f} | {l1:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
