"""Symbol inventories. Index 0 is padding and index 1 the end-of-sentence token."""

PAD = "<pad>"
EOS = "<eos>"
SPECIAL = (PAD, EOS)

PUNCTUATION = tuple(" !'\"(),-.:;?")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")

DEFAULT_CHARACTERS: tuple[str, ...] = SPECIAL + PUNCTUATION + LETTERS

# What espeak-ng en-us emits through phonemizer with stress marks (checked on the eval
# sentences and a few thousand English words): the ASCII letters it uses, the IPA letters,
# primary/secondary stress, length, and the syllabic mark under "n" (button: bˈʌʔn̩).
# Append only: a phoneme's index is baked into every checkpoint trained with this table.
IPA_LETTERS = tuple("abdefhijklmnoprstuvwxz" + "æðŋɐɑɔəɚɛɜɡɪɬɹɾʃʊʌʒʔθᵻ")
IPA_MARKS = ("ˈ", "ˌ", "ː", "\u0329")

DEFAULT_PHONEMES: tuple[str, ...] = SPECIAL + PUNCTUATION + IPA_LETTERS + IPA_MARKS


def default_symbols(frontend: str) -> tuple[str, ...]:
    """The symbol table a front-end uses when the config does not name its own."""
    tables = {"characters": DEFAULT_CHARACTERS, "phonemes": DEFAULT_PHONEMES}
    if frontend not in tables:
        raise ValueError(f"unknown text front-end {frontend!r}; expected one of {sorted(tables)}")
    return tables[frontend]
