"""The bundled default voice: small, self-contained, and it reads text in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tts.eval.alignment import argmax_path, focus_rate, monotonicity, most_diagonal_head
from tts.pretrained import default_voice
from tts.synthesize import Synthesizer
from tts.text import phonemes


def test_bundled_voice_is_one_small_self_describing_file():
    path = default_voice()
    assert path is not None, "tts/pretrained/ must ship the default voice (recipes/ljspeech_part1)"
    assert path.stat().st_size < 25 * 2**20
    state = torch.load(path, weights_only=True)
    assert state["weights_dtype"] == "float16" and "optimizer" not in state
    assert {"config", "symbols", "git_sha", "step", "format_version"} <= set(state)


def test_bundled_voice_aligns_and_stops():
    frontend = torch.load(default_voice(), weights_only=True)["config"]["text"]["frontend"]
    missing = phonemes.missing_dependency()
    if frontend == "phonemes" and missing is not None:
        pytest.skip(f"the bundled voice reads phonemes, but {missing} ({phonemes.INSTALL_HINT})")
    torch.set_num_threads(1)
    syn = Synthesizer.from_checkpoint(default_voice(), vocoder="griffin-lim:4")
    text = "The birch canoe slid on the smooth planks."
    result = syn(text, seed=0)
    assert not result.hit_max, "the stop token must end the sentence"
    # LJSpeech reads about 15 characters per second; allow a wide margin.
    assert 0.5 * len(text) / 15 < result.audio_seconds < 2.0 * len(text) / 15
    best = most_diagonal_head(result.alignment)
    attention = torch.from_numpy(result.alignment[best.layer, best.head])
    path = argmax_path(attention)
    symbols = attention.shape[1]
    # It reads every symbol once, in order: a path that skips words, loops or stalls fails.
    assert path[0] <= 1 and path[-1] >= symbols - 2, f"path does not span the text: {path}"
    assert monotonicity(attention) > 0.95, f"path runs backwards: {path}"
    assert len(set(path)) >= 0.9 * symbols, f"path skips symbols: {path}"
    assert focus_rate(attention) > 0.7
    # Diagonality measures a band around the straight line; a duration path bends with the
    # speaking rate (0.56 for this sentence), while spread-out attention scores about 0.2.
    assert best.diagonality > 0.4, f"alignment is not diagonal: {best}"
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0.01
