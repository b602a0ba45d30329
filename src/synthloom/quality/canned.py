"""What a model writes instead of data, in one place: refusals, assistant boilerplate, placeholder values.

    find_refusal, find_boilerplate, canned_text    refusals ("As an AI language model ...") and boilerplate
                           ("Sure! Here is ...", "[insert name]", "lorem ipsum") in free text
    is_refusal             Evol-Instruct's rule: a short response that says "sorry"
    placeholder_paths      fields whose whole value is a placeholder ("XYZ", "N/A", "${:d}", "John Doe")

The filter gate, the red-team technique and judge, the evol-instruct filters, the conversation
simulator and every JSON technique's parse step read them from here.
"""
from __future__ import annotations

import re
from typing import Any

from ..records import Problem

REFUSAL_PATTERNS = [
    r"\bas an ai\b",
    r"\bas an? (?:ai |artificial intelligence |large )?language model\b",
    r"\bi(?:'m| am) (?:sorry|afraid),? but i (?:can(?:not|'t)|am unable|won't)\b",
    r"\bi (?:can(?:not|'t)|am unable to|won't be able to) (?:help|assist|provide|comply|fulfil+|create|generate|write|do that)\b",
    r"\bi(?:'m| am) (?:not able|unable) to (?:help|assist|provide|comply|fulfil+|create|generate|write)\b",
    r"\bi apologi[sz]e,? but\b",
    r"\bi do(?:n't| not) have (?:personal (?:opinions|feelings|experiences)|the ability to)\b",
    r"\bthis (?:request|content) (?:goes against|violates)\b",
    r"\b(?:openai|anthropic)'s (?:use|content) polic",
]
BOILERPLATE_PATTERNS = [
    r"^\s*(?:sure|certainly|of course|absolutely)[!,.]?\s+here(?:'s| is| are)\b",
    r"^\s*here(?:'s| is| are) (?:a|an|the|some|your) (?:\w+ ){0,4}(?:example|examples|response|record|records|message|answer|version)s?\b[^.\n]{0,40}:",
    r"\blorem ipsum\b",
    r"\[(?:insert|your|company|customer|name|date|product)[^\]]{0,30}\]",
    r"<(?:your|insert|company|customer)[ _][^>]{0,30}>",
    r"\{\{\s*\w+\s*\}\}",
    r"\bi hope this helps\b",
    r"\blet me know if you (?:need|have|would)\b",
]
_REFUSAL = [re.compile(p, re.IGNORECASE) for p in REFUSAL_PATTERNS]
_BOILER = [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in BOILERPLATE_PATTERNS]


def find_refusal(text: str) -> str | None:
    for pat in _REFUSAL:
        m = pat.search(text)
        if m:
            return m.group(0)
    return None


def find_boilerplate(text: str) -> str | None:
    for pat in _BOILER:
        m = pat.search(text)
        if m:
            return m.group(0).strip()
    return None


def canned_text(text: str, words: dict[str, str]) -> Problem | None:
    """("refusal" | "boilerplate", detail) when `text` reads like a refusal or assistant boilerplate;
    `words` says each in the caller's terms ({"refusal": "reads like a refusal", ...})."""
    for reason, find in (("refusal", find_refusal), ("boilerplate", find_boilerplate)):
        hit = find(text)
        if hit:
            return Problem(reason, f"{words[reason]}: {hit!r}")
    return None


def is_refusal(response: str, max_words: int = 80) -> Problem | None:
    n = len(response.split())
    if "sorry" in response.lower() and n < max_words:
        return Problem("refusal", f"the response says 'sorry' in {n} words (< {max_words})")
    return None


# Placeholder values a small model writes when it has nothing better: "XYZ", "Xxx", "N/A", "${:d}",
# "John Doe", "company.com". Whole values only (a name that contains "Abc" is fine); words that can be
# real values (a label "none", a business "bar") are not on the list.
_PLACEHOLDER = re.compile(
    r"^\s*(x{2,}[\w/-]*|xyz[\w/.-]*|abc|n/a|tbd|tba|lorem ipsum.*|john doe|jane doe|"
    r"company(\.com)?|company name|placeholder|\$\{.*\}|\{\{.*\}\}|<[^>]*>|\[[^\]]*\])\s*$",
    re.IGNORECASE)


def placeholder_paths(value: Any, path: str = "") -> list[str]:
    """Field paths of string values that are placeholders rather than data."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in placeholder_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in placeholder_paths(v, f"{path}[{i}]")]
    if isinstance(value, str) and _PLACEHOLDER.match(value):
        return [path or "(root)"]
    return []
