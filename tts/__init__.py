"""Transformer TTS toolkit. ``from tts import Synthesizer`` is the entry point for Python use."""

from __future__ import annotations

from typing import Any

__all__ = ["SynthesisResult", "Synthesizer"]


def __getattr__(name: str) -> Any:
    # Imported on first use so `tts --help` and light modules do not load torch.
    if name in __all__:
        from tts import synthesize

        return getattr(synthesize, name)
    raise AttributeError(f"module 'tts' has no attribute {name!r}")
