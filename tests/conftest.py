"""Shared test fixtures: paths to the optional real data and tiny synthetic audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_EVAL = REPO.parent / "shared" / "eval"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see shared/data/README.md)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


WORDS = ["the", "cat", "sat", "on", "a", "mat", "printing", "press", "book", "is", "good"]


def make_prepared(root: Path, n_items: int = 12, n_mels: int = 80, seed: int = 0) -> Path:
    """A tiny prepared dataset (manifests, .npy mels, stats) shaped like `tts prepare` output."""
    import json

    generator = np.random.default_rng(seed)
    (root / "mels").mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(n_items):
        words = generator.choice(WORDS, size=int(generator.integers(2, 6)))
        text = " ".join(words) + "."
        frames = 8 * len(text) + int(generator.integers(0, 8))
        t = np.arange(frames)[None, :] / 10.0
        bins = np.arange(n_mels)[:, None] / 8.0
        mel = np.sin(t + bins + index) - 4.0 + 0.1 * generator.standard_normal((n_mels, frames))
        name = f"utt{index:03d}"
        np.save(root / "mels" / f"{name}.npy", mel.astype(np.float32))
        rows.append(
            {
                "id": name,
                "text": text,
                "normalized_text": text,
                "wav_path": "",
                "duration": frames * 256 / 22050,
                "n_frames": frames,
                "mel_path": f"mels/{name}.npy",
            }
        )
    splits = {"train": rows[:-2], "val": rows[-2:], "test": rows[-2:], "all": rows}
    for split, split_rows in splits.items():
        with (root / f"{split}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in split_rows)
    stats = {"mean": [-4.0] * n_mels, "std": [0.7] * n_mels}
    (root / "stats.json").write_text(json.dumps(stats))
    return root


TINY_MODEL = [
    "model.d_model=32",
    "model.num_heads=2",
    "model.encoder_layers=1",
    "model.decoder_layers=2",
    "model.ffn_dim=64",
    "model.decoder_prenet_dim=32",
    "model.postnet_channels=16",
    "model.postnet_layers=2",
    "model.encoder_prenet_layers=1",
]
