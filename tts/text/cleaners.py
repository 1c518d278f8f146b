"""English text normalisation: raw text in, a string over the default character set out.

The acoustic model only learns to pronounce what it sees in its training transcripts,
which are lowercase words and a little punctuation. Anything else at inference time
(digits, "Dr.", "&", curly quotes, accents) would be silently dropped or mispronounced,
so every such form is rewritten into the words a reader would say. The output uses
only the characters of ``DEFAULT_CHARACTERS`` (besides the specials), which is also
what the phonemiser receives, and ``normalize`` is idempotent so manifests can store
its output and the data loader can skip cleaning.

Ambiguities are resolved by rules, not guesses: "St." is "saint" before a capitalised
word (St. Louis, St. Patrick's) and "street" otherwise (Main St.); "Dr." is always
"doctor"; "No." is "number" only before a digit; two- and three-letter capitalised
words are initialisms read letter by letter (IBM, CEO) unless the whole text is
uppercase, in which case nothing is spelled out.
"""

from __future__ import annotations

import re

from unidecode import unidecode

from tts.text.numbers import expand_numbers, period_ends_sentence
from tts.text.symbols import DEFAULT_CHARACTERS, SPECIAL

_ALLOWED = "".join(s for s in DEFAULT_CHARACTERS if s not in SPECIAL)

# Characters whose unidecode transliteration is wrong for speech; currency symbols are
# kept so number expansion can read them ("€2" -> "two euros", not "EUR2").
_BEFORE_ASCII = (
    ("°C", " degrees Celsius"),
    ("°F", " degrees Fahrenheit"),
    ("°", " degrees"),
    ("«", '"'),
    ("»", '"'),
    ("„", '"'),
    ("‹", "'"),
    ("›", "'"),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f£€¥]+")

# Titles and infixes always precede more words, so their period never ends a sentence.
_TITLES = {
    "mrs": "misses",
    "mr": "mister",
    "ms": "miz",
    "dr": "doctor",
    "prof": "professor",
    "capt": "captain",
    "gen": "general",
    "lt": "lieutenant",
    "col": "colonel",
    "sgt": "sergeant",
    "maj": "major",
    "rev": "reverend",
    "mt": "mount",
    "vs": "versus",
    "e.g": "for example",
    "i.e": "that is",
}
# These often close a sentence ("... and Sons Co."), so their period may be kept.
_ENDINGS = {
    "jr": "junior",
    "sr": "senior",
    "co": "company",
    "ltd": "limited",
    "inc": "incorporated",
    "etc": "et cetera",
}
_UNDOTTED_TITLES = ("mrs", "mr", "vs")  # never words, so "Mr Smith" is safe too
_TITLE = re.compile(
    rf"\b(?:({'|'.join(_UNDOTTED_TITLES)})\b\.?|({'|'.join(map(re.escape, _TITLES))})\.)",
    re.IGNORECASE,
)
_ENDING = re.compile(rf"\b({'|'.join(_ENDINGS)})\.", re.IGNORECASE)
_SAINT = re.compile(r"\b(?i:st)\.(?=\s+[A-Z])")
_STREET = re.compile(r"\bst\.", re.IGNORECASE)
_NUMBER_SIGN = re.compile(r"\bno\.\s*(?=\d)|#\s?(?=\d)", re.IGNORECASE)

_SYMBOLS = (("&", " and "), ("@", " at "), ("+", " plus "), ("=", " equals "), ("%", " percent "))
_INITIALS = re.compile(r"\b(?:[A-Z]\.){2,}")  # U.S.A., J.R.R.
_ACRONYM = re.compile(r"\b[A-Z]{2,3}\b")

_PUNCTUATION = (
    (re.compile(r"`"), "'"),
    (re.compile(r"[\[{]"), "("),
    (re.compile(r"[\]}]"), ")"),
    (re.compile(r"\s*-{2,}\s*|\s+-+(?=\s|$)|^-+(?=\s)"), ", "),  # dashes used as pauses
    (re.compile(f"[^{re.escape(_ALLOWED)}]"), " "),
    (re.compile(r"\.{4,}"), "..."),
    (re.compile(r"([!?,;:])\1+"), r"\1"),
    (re.compile(r"\s+"), " "),
    (re.compile(r" ?,(?: ?,)+"), ","),
    (re.compile(r" ?, ?(?=[.!?;:])"), ""),
    (re.compile(r" ([!?.,;:)])"), r"\1"),
    (re.compile(r"\( "), "("),
    (re.compile(r"^[ ,]+"), ""),
)


def _to_ascii(text: str) -> str:
    for before, after in _BEFORE_ASCII:
        text = text.replace(before, after)
    return _NON_ASCII.sub(lambda m: unidecode(m.group()), text)


def _title(match: re.Match[str]) -> str:
    return _TITLES[(match[1] or match[2]).lower()]


def _ending(match: re.Match[str]) -> str:
    word = _ENDINGS[match[1].lower()]
    return word + "." if period_ends_sentence(match.string, match.end()) else word


def _street(match: re.Match[str]) -> str:
    return "street." if period_ends_sentence(match.string, match.end()) else "street"


def _initials(match: re.Match[str]) -> str:
    letters = " ".join(match.group().replace(".", ""))
    return letters + "." if period_ends_sentence(match.string, match.end()) else letters


def expand_abbreviations(text: str) -> str:
    """Rewrite titles, Latin abbreviations, "St." and "No. 5" into spoken words."""
    text = _NUMBER_SIGN.sub("number ", text)
    text = _TITLE.sub(_title, text)
    text = _SAINT.sub("Saint", text)
    text = _STREET.sub(_street, text)
    return _ENDING.sub(_ending, text)


def spell_initialisms(text: str) -> str:
    """'U.S.' -> 'U S', 'IBM' -> 'I B M' (a character model reads them letter by letter)."""
    text = _INITIALS.sub(_initials, text)
    if re.search(r"[a-z]", text) or " " not in text.strip():
        text = _ACRONYM.sub(lambda m: " ".join(m.group()), text)
    return text


def normalize(text: str) -> str:
    """Raw English text -> lowercase words and punctuation from the default character set."""
    text = _to_ascii(text)
    text = expand_abbreviations(text)
    text = expand_numbers(text)
    for symbol, words in _SYMBOLS:
        text = text.replace(symbol, words)
    text = spell_initialisms(text).lower()
    for pattern, replacement in _PUNCTUATION:
        text = pattern.sub(replacement, text)
    return text.strip()
