"""Spell out numbers the way an English speaker reads them aloud.

A TTS model never sees digits during training (the corpora are transcribed in words),
so every digit must become words before synthesis. Context decides the reading:
"$1.50", "1984", "3:45 pm", "22nd" and "50%" all need different words, so the
specific patterns run first and plain cardinals last. The output contains only
letters, spaces, hyphens, commas and apostrophes, all of which are in the default
character set.

Number names are built here rather than with ``inflect``: they give the same words
(checked against inflect 7 on thousands of numbers), but importing inflect 7 takes
seconds because typeguard re-instruments it, a cost every CLI start and test run would pay.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Beyond this many digits a number is an identifier (account, phone), not a quantity:
# read it digit by digit. 15 digits reach the hundreds of trillions.
_MAX_CARDINAL_DIGITS = 15

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = (
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_GROUP_NAMES = ("", " thousand", " million", " billion", " trillion")
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}

# symbol -> (unit singular, unit plural, subunit singular, subunit plural); no subunit for yen.
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", None, None),
}
_SCALES = "thousand|million|billion|trillion"

_NUMBER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"  # "1,234,567" or "1234567"
_RANGE = re.compile(r"(?<=\d)\s?-\s?(?=[$£€¥]?\d)")
_NEGATIVE = re.compile(r"(?<![\w.])-(?=[$£€¥]?\.?\d)")
_SYMBOL_AFTER = re.compile(rf"(?<![\d,.])({_NUMBER})(\.\d+)?\s?([£€¥])")
_CURRENCY = re.compile(rf"([$£€¥])\s?({_NUMBER})(?:\.(\d+))?(?:\s?({_SCALES})\b)?", re.IGNORECASE)
_PERCENT = re.compile(r"(?<=\d)\s?%")
_GROUPED = re.compile(r"(?<![\d,])(\d{1,3}(?:,\d{3})+)(?:\.(\d+))?(?!\d)")
_MERIDIEM = r"\s?([ap])\.?m\b(\.?)"
_CLOCK = re.compile(rf"\b([01]?\d|2[0-3]):([0-5]\d)(?!\d)(?:{_MERIDIEM})?", re.IGNORECASE)
_HOUR = re.compile(rf"\b(1[0-2]|0?\d){_MERIDIEM}", re.IGNORECASE)
_RATIO = re.compile(r"(?<=\d):(?=\d)")  # what is left after times: "3:1", "2:0"
_FRACTION = re.compile(r"(?<![\d/.])(\d+)/(\d+)(?![\d/])")
_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_DECADE = re.compile(r"(?:\b(1(?!000)\d\d0|20\d0)|'(\d0)|\b([2-9]0))'?s\b")
# Amounts ("$1465"), grouped counts ("1,465") and decimals are read before this runs;
# "1465,000" (a mistyped grouping) is left to the cardinal reading.
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d\d)(?!\d|,\d{3}(?!\d))")
_CARDINAL = re.compile(r"\d+")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_DIGIT_WORDS[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(f"{_TENS[tens]}-{_DIGIT_WORDS[ones]}" if ones else _TENS[tens])
    elif rest >= 10:
        words.append(_TEENS[rest - 10])
    elif rest:
        words.append(_DIGIT_WORDS[rest])
    return " ".join(words)


def cardinal(digits: str) -> str:
    """'1,200' -> 'one thousand two hundred'; a leading zero or a very long run reads digits.

    US style: no "and" after "hundred", and no commas between groups, which the model
    would read as pauses in the middle of one number.
    """
    digits = digits.replace(",", "")
    if (len(digits) > 1 and digits.startswith("0")) or len(digits) > _MAX_CARDINAL_DIGITS:
        return " ".join(_DIGIT_WORDS[int(d)] for d in digits)
    n = int(digits)
    if n == 0:
        return "zero"
    groups = []
    for name in _GROUP_NAMES:
        n, group = divmod(n, 1000)
        if group:
            groups.append(_below_thousand(group) + name)
    return " ".join(reversed(groups))


def decimal(whole: str, fraction: str) -> str:
    """'3', '14' -> 'three point one four' (fraction digits are read one at a time)."""
    head = cardinal(whole) if whole else ""
    return f"{head} point {' '.join(_DIGIT_WORDS[int(d)] for d in fraction)}".strip()


def ordinal(digits: str) -> str:
    """'22' -> 'twenty-second': only the last word of the cardinal changes."""
    words = cardinal(digits.lstrip("0") or "0")
    cut = max(words.rfind(" "), words.rfind("-")) + 1
    head, last = words[:cut], words[cut:]
    if last in _IRREGULAR_ORDINALS:
        return head + _IRREGULAR_ORDINALS[last]
    return head + (last[:-1] + "ieth" if last.endswith("y") else last + "th")


def year(value: int) -> str:
    """Read 1001-2099 in pairs: 'fourteen sixty-five', 'ten oh five', 'nineteen hundred'.

    1000 and 2000-2009 stay cardinals ('one thousand', 'two thousand five'), as spoken.
    """
    century, rest = divmod(value, 100)
    if value == 1000 or 2000 <= value < 2010:
        return cardinal(str(value))
    if rest == 0:
        return f"{cardinal(str(century))} hundred"
    if rest < 10:
        return f"{cardinal(str(century))} oh {cardinal(str(rest))}"
    return f"{cardinal(str(century))} {cardinal(str(rest))}"


def _plural(words: str) -> str:
    """Pluralise the last word of a number phrase: 'nineteen ninety' -> 'nineteen nineties'."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _currency(match: re.Match[str]) -> str:
    symbol, whole, fraction, scale = match.group(1, 2, 3, 4)
    unit, units, sub, subs = _CURRENCIES[symbol]
    if scale:  # "$1.5 million" -> "one point five million dollars"
        amount = decimal(whole, fraction) if fraction else cardinal(whole)
        return f"{amount} {scale.lower()} {units}"
    if fraction is not None and (len(fraction) > 2 or sub is None):
        return f"{decimal(whole, fraction)} {units}"
    dollars = int(whole.replace(",", ""))
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    parts = []
    if dollars or not cents:
        parts.append(f"{cardinal(whole)} {unit if dollars == 1 else units}")
    if cents:
        parts.append(f"{cardinal(str(cents))} {sub if cents == 1 else subs}")
    return ", ".join(parts)


def period_ends_sentence(text: str, end: int) -> bool:
    """Whether an abbreviation's period at ``text[end - 1]`` also closes the sentence.

    "at 8 p.m." and "Smith Jr. Then" end sentences; "8 p.m., then" does not. Expanding
    the abbreviation must keep that period, or the model loses the sentence boundary.
    """
    rest = text[end:]
    return not rest.strip() or re.match(r"\s+[A-Z]", rest) is not None


def _meridiem(letter: str | None, dot: str | None, text: str, end: int) -> str:
    """' a m' for a.m./pm (spelled letters, no inner periods that would read as pauses)."""
    if not letter:
        return ""
    keep = bool(dot) and period_ends_sentence(text, end)
    return f" {letter.lower()} m" + ("." if keep else "")


def _clock(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = _meridiem(match.group(3), match.group(4), match.string, match.end())
    if minutes == 0:
        if suffix:
            spoken = cardinal(str(hours))
        elif hours > 12:  # 24-hour clock: "fourteen hundred"
            spoken = f"{cardinal(str(hours))} hundred"
        else:
            spoken = f"{cardinal(str(hours))} o'clock"
    elif minutes < 10:
        spoken = f"{cardinal(str(hours))} oh {cardinal(str(minutes))}"
    else:
        spoken = f"{cardinal(str(hours))} {cardinal(str(minutes))}"
    return spoken + suffix


def _hour(match: re.Match[str]) -> str:
    suffix = _meridiem(match.group(2), match.group(3), match.string, match.end())
    return cardinal(str(int(match.group(1)))) + suffix


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match.group(1)), int(match.group(2))
    if not 0 < numerator < denominator <= 10:
        return f"{cardinal(match.group(1))} {cardinal(match.group(2))}"
    name = {2: "half", 4: "quarter"}.get(denominator) or ordinal(str(denominator))
    if numerator > 1:
        name = "halves" if name == "half" else name + "s"
    return f"{cardinal(match.group(1))} {name}"


def _decade(match: re.Match[str]) -> str:
    if match.group(1):
        return _plural(year(int(match.group(1))))
    return _plural(cardinal(match.group(2) or match.group(3)))


def _sub(pattern: re.Pattern[str], spell: Callable[[re.Match[str]], str], text: str) -> str:
    """Substitute matches with words, padded with spaces where they touch letters ("mp3")."""

    def padded(match: re.Match[str]) -> str:
        start, end = match.start(), match.end()
        before = " " if start > 0 and text[start - 1].isalpha() else ""
        after = " " if end < len(text) and text[end].isalpha() else ""
        return before + spell(match) + after

    return pattern.sub(padded, text)


def expand_numbers(text: str) -> str:
    """Replace every digit sequence in ``text`` with words; the result has no digits."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _RANGE.sub(" to ", text)
    text = _NEGATIVE.sub("minus ", text)
    text = _SYMBOL_AFTER.sub(r"\3\1\2", text)
    text = _sub(_CURRENCY, _currency, text)
    text = _PERCENT.sub(" percent", text)
    text = _sub(_GROUPED, lambda m: decimal(m[1], m[2]) if m[2] else cardinal(m[1]), text)
    text = _sub(_CLOCK, _clock, text)
    text = _sub(_HOUR, _hour, text)
    text = _RATIO.sub(" to ", text)
    text = _sub(_FRACTION, _fraction, text)
    text = _sub(_DECIMAL, lambda m: decimal(m[1], m[2]), text)
    text = _sub(_ORDINAL, lambda m: ordinal(m[1]), text)
    text = _sub(_DECADE, _decade, text)
    text = _sub(_YEAR, lambda m: year(int(m[0])), text)
    return _sub(_CARDINAL, lambda m: cardinal(m[0]), text)
