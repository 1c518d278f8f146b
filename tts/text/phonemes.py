"""Grapheme-to-phoneme conversion with espeak-ng through the ``phonemizer`` package.

Phonemes are optional: they need a system library (espeak-ng) that pip cannot install,
so the character front-end must work without them. ``phonemizer`` is therefore
imported on first use, and a missing piece raises one error naming both install steps.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import shutil
from typing import Any

# espeak joins function words ("on the" -> "ɔnðə"), which phonemizer reports as a
# word-count mismatch on nearly every call; that is harmless here, so only errors pass.
_espeak_logger = logging.getLogger(f"{__name__}.espeak")
_espeak_logger.setLevel(logging.ERROR)

INSTALL_HINT = "pip install 'tts[phonemes]' and apt-get install espeak-ng"


def missing_dependency() -> str | None:
    """Why phonemes cannot be produced here, or None when they can."""
    if importlib.util.find_spec("phonemizer") is None:
        return "the phonemizer package is not installed"
    if shutil.which("espeak-ng") is None:
        return "espeak-ng is not installed"
    return None


@functools.cache
def _backend(language: str) -> Any:
    # One backend per language: building it loads libespeak-ng, far slower than a call.
    reason = missing_dependency()
    if reason is not None:
        raise RuntimeError(f"the phoneme front-end is unavailable: {reason}; {INSTALL_HINT}")
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(
        language,
        preserve_punctuation=True,
        with_stress=True,
        language_switch="remove-flags",  # no "(fr)" markers inside the phoneme string
        logger=_espeak_logger,
    )


def phonemize(text: str, language: str = "en-us") -> str:
    """Normalised text -> IPA string with stress marks, punctuation kept in place.

    One utterance per call: phonemizer treats newlines as separate utterances, and its
    punctuation restoration can shift text between utterances when given a batch.
    """
    text = " ".join(text.split())
    if not text:
        return ""
    backend = _backend(language)  # raises the install instructions when unavailable
    from phonemizer.separator import Separator

    separator = Separator(phone="", syllable="", word=" ")
    return backend.phonemize([text], separator=separator, strip=True)[0]
