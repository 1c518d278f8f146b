"""``tts plot-alignment``: look at how the decoder attended.

Either re-plot a synthesis written by ``tts synthesize`` (its ``NNNN.npz``), or run a
checkpoint on a text and plot that. One head (the most diagonal unless ``--layer`` and
``--head`` are given) with the encoder axis labelled by input symbol, or ``--grid`` for
every head of every layer.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tts.eval.alignment import most_diagonal_head
from tts.plotting import plot_alignment, plot_alignment_grid, save_figure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthesis", type=Path, help="an NNNN.npz from tts synthesize")
    source.add_argument("--checkpoint", type=Path, help="a checkpoint to run on --text")
    parser.add_argument("--text", help="text to synthesise with --checkpoint")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--layer", type=int, default=None)
    parser.add_argument("--head", type=int, default=None)
    parser.add_argument("--grid", action="store_true", help="all layers x heads")
    parser.add_argument("--monotonic", action="store_true")


def load_alignment(args: argparse.Namespace) -> tuple[np.ndarray, list[str]]:
    """(L, H, T_dec, T_text) weights and the input symbols, from a file or a fresh run."""
    if args.synthesis is not None:
        if not args.synthesis.is_file():
            raise SystemExit(f"error: synthesis file not found: {args.synthesis}")
        data = np.load(args.synthesis)
        return data["alignment"], [str(s) for s in data["symbols"]]
    if not args.text:
        raise SystemExit("error: --checkpoint needs --text")
    from tts.checkpoint import CheckpointError
    from tts.synthesize import SynthesisError, Synthesizer

    try:
        # One Griffin-Lim iteration: only the attention is wanted, not good audio.
        syn = Synthesizer.from_checkpoint(args.checkpoint, vocoder="griffin-lim:1")
        result = syn(args.text, monotonic=args.monotonic, seed=0)
    except (CheckpointError, SynthesisError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    return result.alignment, result.symbols


def run(args: argparse.Namespace) -> int:
    alignment, symbols = load_alignment(args)
    layers, heads = alignment.shape[:2]
    if args.grid:
        figure = plot_alignment_grid(alignment, title=f"{layers} layers x {heads} heads")
    else:
        best = most_diagonal_head(alignment)
        layer = best[0] if args.layer is None else args.layer
        head = best[1] if args.head is None else args.head
        if not (0 <= layer < layers and 0 <= head < heads):
            raise SystemExit(f"error: layer/head out of range: have {layers} x {heads}")
        figure = plot_alignment(alignment[layer, head], symbols, f"layer {layer} head {head}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_figure(figure, args.out)
    print(args.out)
    return 0
