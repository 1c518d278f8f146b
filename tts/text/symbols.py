"""Symbol inventories. Index 0 is padding and index 1 the end-of-sentence token."""

PAD = "<pad>"
EOS = "<eos>"
SPECIAL = (PAD, EOS)

PUNCTUATION = tuple(" !'\"(),-.:;?")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")

DEFAULT_CHARACTERS: tuple[str, ...] = SPECIAL + PUNCTUATION + LETTERS
