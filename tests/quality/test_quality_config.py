"""Gate configs in a recipe: the `gate:` union, defaults, and clear errors for typos."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from synthloom.config import Recipe
from synthloom.quality import GATES, build_gate, build_gates

GEN = {"technique": "schema", "schema": {"type": "object", "properties": {"text": {"type": "string"}}}}


def test_default_quality_is_exact_dedup():
    r = Recipe.model_validate({"count": 3, "generate": GEN})
    assert [(g.gate, g.method) for g in r.quality] == [("dedup", "exact")]
    (gate,) = build_gates(r.quality, ".")
    assert gate.stage == "dedup" and gate.stateful


def test_every_gate_parses_from_a_recipe_and_builds():
    r = Recipe.model_validate({"count": 3, "generate": GEN, "quality": [
        {"gate": "filter", "language": "en", "min_words": 3, "blacklist": ["lorem"]},
        {"gate": "dedup", "method": "minhash", "threshold": 0.7, "unit": "word", "ngram": 3},
        {"gate": "judge", "threshold": 4, "criteria": ["is about billing"]},
        {"gate": "label", "labels": ["spam", "ham"], "action": "flag"},
        {"gate": "diversity", "attributes": ["tone"], "max_share": 0.4},
    ]})
    assert [g.gate for g in r.quality] == ["filter", "dedup", "judge", "label", "diversity"]
    gates = build_gates(r.quality, ".")
    assert [g.stage for g in gates] == ["filter", "dedup", "judge", "label", "diversity"]
    assert [g.stateful for g in gates] == [False, True, False, False, True]
    assert {"dedup", "filter", "judge", "label", "diversity"} <= set(GATES)


def test_every_gate_tag_names_its_own_module_with_a_builder():
    from synthloom.registry import load

    for tag, target in GATES.items():
        assert target == f"synthloom.quality.{tag}:build"
        assert callable(load(target)), tag


def test_typo_in_a_gate_names_the_field():
    with pytest.raises(ValidationError, match="treshold"):
        Recipe.model_validate({"count": 3, "generate": GEN, "quality": [{"gate": "judge", "treshold": 4}]})


def test_unknown_gate_is_an_error():
    with pytest.raises(ValidationError, match="gate"):
        Recipe.model_validate({"count": 3, "generate": GEN, "quality": [{"gate": "vibes"}]})


def test_judge_threshold_range_and_label_needs_labels():
    with pytest.raises(ValidationError):
        Recipe.model_validate({"count": 3, "generate": GEN, "quality": [{"gate": "judge", "threshold": 6}]})
    with pytest.raises(ValidationError, match="labels"):
        Recipe.model_validate({"count": 3, "generate": GEN, "quality": [{"gate": "label"}]})


def test_semantic_threshold_default_and_openai_embedding_needs_url():
    from synthloom.config.quality import DedupGateConfig, EmbeddingConfig

    assert DedupGateConfig(method="semantic").effective_threshold() == 0.85
    assert DedupGateConfig(method="minhash").effective_threshold() == 0.8
    with pytest.raises(ValidationError, match="base_url"):
        EmbeddingConfig(provider="openai")


def test_document_gates_are_in_the_same_union():
    r = Recipe.model_validate({"count": 3, "generate": GEN, "quality": [
        {"gate": "grounding"}, {"gate": "recoverable", "match": "exact"}]})
    assert [g.gate for g in r.quality] == ["grounding", "recoverable"]
