"""Figures people would rather look at than read: alignments and mel-spectrograms."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def plot_alignment(
    attention: np.ndarray, symbols: list[str] | None = None, title: str = ""
) -> Figure:
    """One (T_dec, T_text) cross-attention map; encoder steps labelled with symbols."""
    steps, symbols_count = attention.shape
    # Decoder steps run along x, symbols up y: size each axis by its own length, within reason.
    width = min(16.0, max(6.0, 0.04 * steps))
    height = min(14.0, max(4.5, 0.12 * symbols_count))
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(attention.T, aspect="auto", origin="lower", interpolation="none")
    ax.set_xlabel("decoder step")
    ax.set_ylabel("input symbol")
    if symbols is not None and len(symbols) <= 200:
        ax.set_yticks(range(len(symbols)))
        ax.set_yticklabels([_label(s) for s in symbols], fontsize=6)
    ax.set_title(title)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def plot_alignment_grid(attention: np.ndarray, title: str = "") -> Figure:
    """All heads of all layers: (L, H, T_dec, T_text) → an L × H grid."""
    layers, heads = attention.shape[:2]
    fig, axes = plt.subplots(
        layers, heads, figsize=(2.6 * heads, 2.2 * layers), squeeze=False, sharex=True, sharey=True
    )
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(attention[layer, head].T, aspect="auto", origin="lower", interpolation="none")
            ax.set_title(f"layer {layer} head {head}", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(title)
    fig.supxlabel("decoder step")
    fig.supylabel("input symbol")
    fig.tight_layout()
    return fig


def plot_mel(mel: np.ndarray, title: str = "", target: np.ndarray | None = None) -> Figure:
    """(M, T) log-mel; with ``target``, prediction above target for comparison."""
    panels = [("prediction" if target is not None else "mel", mel)]
    if target is not None:
        panels.append(("target", target))
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), squeeze=False)
    for ax, (name, data) in zip(axes[:, 0], panels, strict=True):
        image = ax.imshow(data, aspect="auto", origin="lower", interpolation="none")
        ax.set_title(f"{title} {name}".strip(), fontsize=9)
        fig.colorbar(image, ax=ax)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path) -> None:
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _label(symbol: str) -> str:
    return {" ": "␣", "<eos>": "EOS", "<pad>": "PAD"}.get(symbol, symbol)
