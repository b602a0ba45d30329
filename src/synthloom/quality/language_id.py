"""Language identification, loaded in one place: py3langid when installed, and what a check does without it.

    identify(text, candidates)   (code, probability) by py3langid, optionally among `candidates` only;
                                 without py3langid an error names the extra to install
    detect_language(text)        (code, confidence): py3langid when installed, else a stopword vote over 7
    LANGUAGE_NAMES, language_code    the languages the translate technique and the language gate name
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from .text import words

# the languages the translate technique and the language gate name (code -> English name)
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
    "cs": "Czech", "tr": "Turkish", "ru": "Russian", "uk": "Ukrainian", "ja": "Japanese", "zh": "Chinese",
    "ko": "Korean", "ar": "Arabic", "hi": "Hindi", "el": "Greek", "ro": "Romanian", "hu": "Hungarian",
}


def language_code(value: str) -> str | None:
    """The ISO 639-1 code of a language given by code or English name (`de`, `German`), else None."""
    v = str(value).strip()
    if v.lower() in LANGUAGE_NAMES:
        return v.lower()
    by_name = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
    return by_name.get(v.lower())


@lru_cache(maxsize=1)
def _loaded() -> Any | None:
    """py3langid's identifier over its 97 languages (probabilities normalised), or None when not installed."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        return None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=32)
def _identifier(langs: tuple[str, ...] | None) -> Any:
    import copy

    ident = _loaded()
    if ident is None:
        from ..errors import require

        require("py3langid", "langid", "language identification")  # raises: py3langid is not installed
    if langs:
        ident = copy.copy(ident)  # set_languages swaps the arrays of the copy only (loading costs ~1 s)
        known = set(ident.nb_classes)
        ident.set_languages([lang for lang in langs if lang in known])
    return ident


def identify(text: str, candidates: tuple[str, ...] | None = None) -> tuple[str, float]:
    """(language code, probability) by py3langid, optionally among `candidates` only."""
    return tuple(_identifier(candidates).classify(text))  # type: ignore[return-value]


_STOPWORDS = {
    "en": "the and of to is in that it for you was with on as are this be have not but they at by or from",
    "es": "el la de que y en los se del las un por con una para es no su al lo como más pero sus le",
    "fr": "le la les de des et est un une que qui en du dans pour pas sur au ce il elle avec sont nous vous",
    "de": "der die und das ist nicht ein eine zu den von mit sich des auf für im dem auch es sie ich wir",
    "it": "il di che la è e un una per non sono del della con gli le si lo nel ma anche come più questo",
    "pt": "o a de que e do da em um uma para com não os as no na por mais se dos das como mas ao é",
    "nl": "de het een en van is dat niet op te zijn voor met die er ook aan als maar bij wordt naar",
}
_STOP_SETS = {lang: set(ws.split()) for lang, ws in _STOPWORDS.items()}


def _stopword_language(text: str) -> tuple[str, float]:
    toks = words(text)
    if not toks:
        return "und", 0.0
    scores = {lang: sum(t in s for t in toks) for lang, s in _STOP_SETS.items()}
    lang, hits = max(scores.items(), key=lambda kv: kv[1])
    if hits == 0:
        return "und", 0.0
    return lang, hits / len(toks)


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence). py3langid (97 languages) when installed, else a stopword vote over 7."""
    ident = _loaded()
    if ident is not None and text.strip():
        lang, prob = ident.classify(text)
        return str(lang), float(prob)
    return _stopword_language(text)
