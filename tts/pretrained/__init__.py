"""The bundled default voice (see README.md in this folder for its model card)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_VOICE_FILE = "ljspeech_part1_small.pt"


def default_voice() -> Path | None:
    """Path of the bundled checkpoint, or None when this install has none."""
    path = Path(__file__).with_name(DEFAULT_VOICE_FILE)
    return path if path.is_file() else None
