"""English text front-end: normalisation, optional phonemes, and symbol ids."""

from tts.text.cleaners import normalize
from tts.text.symbols import (
    DEFAULT_CHARACTERS,
    DEFAULT_PHONEMES,
    EOS,
    PAD,
    default_symbols,
)
from tts.text.tokenizer import Tokenizer

__all__ = [
    "DEFAULT_CHARACTERS",
    "DEFAULT_PHONEMES",
    "EOS",
    "PAD",
    "Tokenizer",
    "default_symbols",
    "normalize",
]
