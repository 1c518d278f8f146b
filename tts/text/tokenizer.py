"""Text <-> symbol ids, the single place where a front-end meets the model's embedding.

The id table is the config's symbol tuple (saved with each checkpoint), so a model is
always decoded with the table it was trained on. Ids 0 and 1 are pad and end-of-sentence
in every table because the model and the data loader rely on those two positions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tts.text.cleaners import normalize as clean
from tts.text.phonemes import phonemize
from tts.text.symbols import DEFAULT_CHARACTERS, EOS, PAD, SPECIAL, default_symbols

if TYPE_CHECKING:  # tts.config imports tts.text.symbols, so no runtime import back
    from tts.config import TextConfig

logger = logging.getLogger(__name__)


class Tokenizer:
    """Maps raw text to ids (and back) for one ``TextConfig``."""

    def __init__(self, config: TextConfig) -> None:
        symbols = config.symbols
        if config.frontend == "phonemes" and symbols == DEFAULT_CHARACTERS:
            # The config's default is the character table; phonemes need the IPA one.
            symbols = default_symbols("phonemes")
        if tuple(symbols[:2]) != SPECIAL:
            raise ValueError(f"text.symbols must start with {PAD!r}, {EOS!r}; got {symbols[:2]}")
        multi = [s for s in symbols[2:] if len(s) != 1]
        if multi:
            raise ValueError(f"text.symbols beyond the specials must be single characters: {multi}")
        self.frontend = config.frontend
        self.language = config.language
        self.vocab: tuple[str, ...] = tuple(symbols)
        self._ids = {symbol: i for i, symbol in enumerate(self.vocab)}
        self._reported: set[str] = set()

    @classmethod
    def from_config(cls, config: TextConfig) -> Tokenizer:
        """Same as ``Tokenizer(config)``; reads like the other ``from_config`` builders."""
        return cls(config)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.vocab)

    def normalize(self, text: str) -> str:
        """What the model reads: cleaned text, or its phonemes for the phoneme front-end."""
        return self._frontend(clean(text))

    def encode(self, text: str, add_eos: bool = True) -> list[int]:
        """Raw text -> ids; characters outside the table are dropped with a warning."""
        return self._lookup(self.normalize(text), add_eos)

    def encode_normalized(self, normalized: str, add_eos: bool = True) -> list[int]:
        """Ids for text already passed through ``normalize`` of the cleaners (manifests)."""
        return self._lookup(self._frontend(normalized), add_eos)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> symbol string, without padding and end-of-sentence."""
        return "".join(s for s in self.symbols(ids) if s not in SPECIAL)

    def symbols(self, ids: Iterable[int]) -> list[str]:
        """One symbol per id, specials included: labels for attention-plot axes."""
        out = []
        for i in map(int, ids):
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"symbol id {i} is outside the table of {len(self.vocab)}")
            out.append(self.vocab[i])
        return out

    def _frontend(self, cleaned: str) -> str:
        if self.frontend == "phonemes":
            return phonemize(cleaned, self.language)
        return cleaned

    def _lookup(self, text: str, add_eos: bool) -> list[int]:
        ids = [self._ids[ch] for ch in text if ch in self._ids]
        unknown = sorted({ch for ch in text if ch not in self._ids} - self._reported)
        if unknown:
            # Once per character and tokenizer, so a data loader does not flood the log.
            self._reported.update(unknown)
            logger.warning(
                "dropping characters not in the %s symbol table: %s",
                self.frontend,
                " ".join(repr(ch) for ch in unknown),
            )
        return ids + [self.eos_id] if add_eos else ids
