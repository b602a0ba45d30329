"""Text matching for grounding checks: normalization, verbatim quotes, numbers and dates written in text.

    normalize / loose       case, spacing and typography folded (loose: punctuation too)
    quote_in                a quote occurs in one of the texts (`...` may skip text, in order)
    parse_number, numbers_in, number_in    1,234.50 / 1.234,50 / 1 234,5 and currency marks
    dates_in, as_date       ISO, 03/05/2024 (read both ways), March 5, 2024, 5th of May 2024
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any, Iterable

# ---------------------------------------------------------------- normalization

_TYPO = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                       "\u00a0": " ", "\u2026": "..."})
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalize(text: str) -> str:
    """Case, spacing and typography folded; punctuation kept (for verbatim quotes)."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPO).casefold()
    return " ".join(text.split())


def loose(text: str) -> str:
    """Only letters and digits, single-spaced (for 'does this value occur in the document')."""
    return " ".join(_NON_WORD.sub(" ", normalize(text).replace("_", " ")).split())


def quote_in(quote: str, texts: Iterable[str]) -> bool:
    """True if `quote` occurs in one of `texts` (normalized); `...` in a quote may skip text, in order."""
    q = normalize(quote).strip(" \"'")
    if not q:
        return False
    segments = [s.strip(" .") for s in re.split(r"\s*\.\.\.\s*|\s*\[\.\.\.\]\s*", q)]
    segments = [s for s in segments if s]
    for text in texts:
        t = normalize(text)
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
