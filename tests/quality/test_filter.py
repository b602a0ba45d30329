"""Heuristic filters: known refusals, boilerplate, wrong language, loops, bounds, blacklist."""
from __future__ import annotations

import asyncio

import pytest

from synthloom.config.quality import FilterGateConfig
from synthloom.quality import build_gate
from synthloom.quality.base import GateContext
from synthloom.quality.filter import HeuristicFilter, detect_language, repeated_ngram_share
from synthloom.records import Record

GOOD = [
    "My card was charged twice this month and I would like the second charge refunded.",
    "The invoice for March lists a premium plan, but I am on the basic plan since January.",
    "Can you explain why my bill went up by ten dollars without any notice?",
]
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I do not have personal opinions about billing.",
    "I cannot provide that information.",
    "I apologize, but generating this content goes against my guidelines.",
]
BOILERPLATE = [
    "Sure! Here is a billing ticket: my card was charged twice.",
    "Here is an example ticket: I was overcharged.",
    "Dear [Your Name], your refund is on its way.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
]
WRONG_LANGUAGE = [
    "Mi tarjeta fue cobrada dos veces este mes y quiero que me devuelvan el segundo cargo.",
    "Ma carte a été débitée deux fois ce mois-ci et je voudrais être remboursé.",
    "Meine Karte wurde diesen Monat zweimal belastet und ich möchte eine Erstattung.",
]


def reason(gate, text):
    out = asyncio.run(gate.check(Record({"text": text}), GateContext()))
    return None if isinstance(out, Record) else (out.stage, out.reason)


@pytest.fixture
def gate():
    return build_gate(FilterGateConfig(language="en", min_words=5, max_chars=400), ".")


def test_good_records_pass(gate):
    assert [reason(gate, t) for t in GOOD] == [None, None, None]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_rejected(gate, text):
    assert reason(gate, text) == ("filter", "refusal")


@pytest.mark.parametrize("text", BOILERPLATE)
def test_boilerplate_is_rejected(gate, text):
    assert reason(gate, text) == ("filter", "boilerplate")


@pytest.mark.parametrize("text", WRONG_LANGUAGE)
def test_wrong_language_is_rejected(gate, text):
    assert reason(gate, text) == ("filter", "language")


def test_language_detection_names_the_language():
    assert detect_language(WRONG_LANGUAGE[0])[0] == "es"
    assert detect_language(WRONG_LANGUAGE[1])[0] == "fr"
    assert detect_language(GOOD[0])[0] == "en"


def test_stopword_fallback_without_py3langid(monkeypatch):
    from synthloom.quality import filter as heuristics
    from synthloom.quality import language_id

    monkeypatch.setattr(language_id, "_loaded", lambda: None)
    assert heuristics.detect_language(WRONG_LANGUAGE[0])[0] == "es"
    assert heuristics.detect_language(GOOD[1])[0] == "en"


def test_repeated_ngrams_loop_is_rejected(gate):
    loop = "Please refund me. " * 8
    assert reason(gate, loop) == ("filter", "repeated_ngrams")
    share, gram = repeated_ngram_share(loop, 3)
    assert share > 0.9 and gram


def test_length_bounds_and_blacklist():
    g = HeuristicFilter(min_chars=20, max_words=10, blacklist=["competitor inc", "refund"], refusals=False,
                        max_repeated_ngram_share=None)
    assert reason(g, "Too short") == ("filter", "too_short")
    assert reason(g, "one two three four five six seven eight nine ten eleven") == ("filter", "too_long")
    assert reason(g, "We switched from Competitor Inc last year.") == ("filter", "blacklist")
    assert reason(g, "The refunding process is slow today.") is None  # whole words only
    assert reason(g, "Nothing on the list appears here.") is None


def test_reason_detail_explains():
    g = HeuristicFilter(language="en")
    out = asyncio.run(g.check(Record({"text": WRONG_LANGUAGE[1]}), GateContext()))
    assert "fr" in out.detail and "expected en" in out.detail


def test_bad_bounds_are_a_config_error():
    with pytest.raises(ValueError, match="min_words"):
        FilterGateConfig(min_words=10, max_words=5)
