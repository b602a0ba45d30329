"""Text utilities every check shares: the text a gate looks at, its normal forms, quotes, numbers and dates.

    record_text, field_value    the text of a record (all its values, or named fields)
    normalize                   the exact-dedup key: lowercase, NFKC, punctuation dropped (ASCII fast path)
    words, shingles, jaccard    word tokens, character/word n-grams of `normalize`d text, their overlap
    exact_key                   the key two texts share when they are exact duplicates after `normalize`
    fold                        case, spacing and typography folded, punctuation kept (verbatim quotes)
    loose                       `fold`, then only letters and digits ("does this value occur in the text")
    quote_in                    a quote occurs in one of the texts (`...` may skip text, in order)
    parse_number, numbers_in, number_in    1,234.50 / 1.234,50 / 1 234,5 and currency marks
    dates_in, as_date           ISO, 03/05/2024 (read both ways), March 5, 2024, 5th of May 2024
    date_spans, without_dates   where dates and clock times stand; the text without them
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping  # typing.Mapping: isinstance ~1.5 us, asked per field
from typing import Any

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


def _leaves(value: Any) -> Iterable[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in sorted(value):
            yield from _leaves(value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield str(value)


def record_text(data: Any, fields: list[str] | None = None) -> str:
    """The record's text: the values of `fields` (dotted paths allowed), or all its values, one per line.

    A record that is not an object (a schema with an array, string or union root) has no fields: its
    text is its JSON, and naming `fields` for it is a RecipeError that says so.
    """
    if not isinstance(data, Mapping):
        if fields:
            from ..errors import RecipeError
            from ..records import kind_of

            raise RecipeError(f"fields {fields}: a gate can only read named fields of an object record, but this "
                              f"record is a JSON {kind_of(data)} (the schema's root is not an object); remove "
                              "`fields` from the gate (it then reads the whole value), or set generate.wrap: FIELD")
        from ..records import dumps

        return dumps(data).decode()
    if not fields:
        return "\n".join(_leaves(data))
    parts: list[str] = []
    for name in fields:
        value: Any = data
        for step in name.split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        parts.extend(_leaves(value))
    return "\n".join(parts)


# ASCII fast path of `normalize`: letters/digits/underscore kept (lowercased), everything else a space
_ASCII_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if (chr(c).isalnum() or c == 95) else 32 for c in range(256)
)


def normalize(text: str) -> str:
    """Lowercase, NFKC, punctuation dropped, whitespace collapsed: the key of exact dedup."""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_TABLE).decode("ascii").split())
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    return _WS.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, n: int = 5, unit: str = "char") -> set[str]:
    """Character or word n-grams of the normalized text (a short text gives itself)."""
    return shingles_of_normalized(normalize(text), n, unit)


def shingles_of_normalized(norm: str, n: int = 5, unit: str = "char") -> set[str]:
    if unit == "word":
        toks = norm.split()
        if len(toks) <= n:
            return {" ".join(toks)} if toks else set()
        return {" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)}
    if len(norm) <= n:
        return {norm} if norm else set()
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def exact_key(text: str) -> bytes:
    """The key two texts share when they are exact duplicates after normalization (the dedup gate's and
    the whole-file dedup's "exact" test). Per line, so field boundaries (one value per line) survive."""
    import hashlib

    norm = "\n".join(normalize(line) for line in text.splitlines())
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).digest()


def field_value(data: Any, name: str, where: str) -> Any:
    """`data[name]` of an object record; for an array/string record (no named fields) a RecipeError naming
    `where` (the gate and its option), instead of a check that silently sees nothing."""
    if isinstance(data, Mapping):
        return data.get(name)
    from ..errors import RecipeError
    from ..records import kind_of

    raise RecipeError(f"{where}: '{name}' names a field of the record, but this record is a JSON {kind_of(data)} "
                      "(the schema's root is not an object), which has no named fields; set generate.wrap: FIELD "
                      "to store each value under a field, or remove this option")


# ---------------------------------------------------------------- matching a quote or a value in a text

_TYPO = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " ", "\u2026": "..."})
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Case, spacing and typography folded; punctuation kept (for verbatim quotes)."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPO).casefold()
    return " ".join(text.split())


def loose(text: str) -> str:
    """Only letters and digits, single-spaced (for 'does this value occur in the document')."""
    return " ".join(_NON_WORD.sub(" ", fold(text).replace("_", " ")).split())


def quote_in(quote: str, texts: Iterable[str]) -> bool:
    """True if `quote` occurs in one of `texts` (normalized); `...` in a quote may skip text, in order."""
    q = fold(quote).strip(" \"'")
    if not q:
        return False
    segments = [s.strip(" .") for s in re.split(r"\s*\.\.\.\s*|\s*\[\.\.\.\]\s*", q)]
    segments = [s for s in segments if s]
    for text in texts:
        t = fold(text)
        if q in t:
            return True
        if len(segments) > 1:
            pos = 0
            for seg in segments:
                pos = t.find(seg, pos)
                if pos < 0:
                    break
                pos += len(seg)
            else:
                return True
        # a quote may differ from the text only by punctuation (e.g. markdown emphasis)
        lq = loose(quote)
        if lq and len(lq) >= 8 and f" {lq} " in f" {loose(text)} ":
            return True
    return False


# ---------------------------------------------------------------- numbers and dates in text

_NUMBER = re.compile(r"(?<![\w.,])[-+]?\d{1,3}(?:[,.  '\u00a0]\d{3})+(?:[.,]\d+)?(?![\d])|(?<![\w.,])[-+]?\d+(?:[.,]\d+)?(?![\d])")
_CURRENCY = re.compile(r"[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)\b", re.I)


def parse_number(s: str) -> float | None:
    """A number written with common thousands and decimal separators (1,234.50 / 1.234,50 / 1 234,5)."""
    s = s.strip().replace("\u00a0", " ").replace(" ", "").replace("'", "")
    if not s:
        return None
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        s = s.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in s:
        head, _, tail = s.rpartition(",")
        s = s.replace(",", "") if len(tail) == 3 and head else s.replace(",", ".")
        if s.count(".") > 1:
            return None
    elif s.count(".") > 1:
        s = s.replace(".", "")
    try:
        return sign * float(s)
    except ValueError:
        return None


def numbers_in(text: str) -> list[tuple[float, bool]]:
    """(value, looks like an amount) for every number in text; amounts have a currency mark or 2 decimals."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0)
        v = parse_number(raw)
        if v is None:
            continue
        near = text[max(0, m.start() - 4): m.end() + 4]
        amount = bool(_CURRENCY.search(near)) or bool(re.search(r"[.,]\d{2}$", raw))
        out.append((v, amount))
        if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):  # 1,234 may also be a decimal comma; keep both readings
            alt = parse_number(raw.replace(",", "."))
            if alt is not None and raw.count(",") == 1:
                out.append((alt, amount))
    return out


def number_in(value: float, text: str, tol: float = 0.005) -> bool:
    return any(abs(v - value) <= tol for v, _ in numbers_in(text))


_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], 1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MON = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b"), "xyY"),
    (re.compile(rf"\b{_MON}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "Mdy"),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MON},?\s+(\d{{4}})\b", re.I), "dMy"),
]


def _month(name: str) -> int:
    key = name.lower().rstrip(".")
    return _MONTHS.get(key) or _MONTHS[key[:3]]


def _mk(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


_TIME = re.compile(r"(?<![\d.,:])\d{1,2}(?::\d{2}){1,2}(?:\s*[ap]\.?m\b\.?)?|(?<![\d.,:])\d{1,2}(?:\.\d{2})?\s*[ap]\.?m\b\.?",
                   re.I)


def date_spans(text: str) -> list[tuple[int, int]]:
    """Where `dates_in` finds a date, and where a clock time stands (`12:30`, `6.30 pm`, `7 am`): the numbers
    inside them are parts of a date or a time, not numbers of their own."""
    spans = [m.span() for pattern, _ in _DATE_PATTERNS for m in pattern.finditer(text)]
    return sorted(spans + [m.span() for m in _TIME.finditer(text)])


def without_dates(text: str) -> str:
    """The text with its dates and clock times (`date_spans`) blanked out, lengths kept."""
    for a, b in date_spans(text):
        text = text[:a] + " " * (b - a) + text[b:]
    return text


def dates_in(text: str) -> set[dt.date]:
    """Calendar dates written in common forms (ISO, 03/05/2024 read both ways, March 5, 2024, 5 March 2024)."""
    found: set[dt.date] = set()
    for pattern, form in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            g = m.groups()
            if form == "ymd":
                cands = [_mk(int(g[0]), int(g[1]), int(g[2]))]
            elif form == "xyY":
                cands = [_mk(int(g[2]), int(g[1]), int(g[0])), _mk(int(g[2]), int(g[0]), int(g[1]))]
            elif form == "Mdy":
                cands = [_mk(int(g[2]), _month(g[0]), int(g[1]))]
            else:
                cands = [_mk(int(g[2]), _month(g[1]), int(g[0]))]
            found.update(c for c in cands if c is not None)
    return found


def as_date(value: Any) -> dt.date | None:
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?\s*", value)
        if m:
            return _mk(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return None
