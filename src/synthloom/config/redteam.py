"""Red-team sets, multilingual copies and adversarial inputs: `technique: redteam`, `translate`, `adversarial`."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .common import Sampling, Strict

SEVERITIES = ("low", "medium", "high", "critical")
STRATEGIES = ("none", "roleplay", "hypothetical", "base64", "leetspeak", "rot13", "typos", "language",
              "multi_turn", "document")


class RedteamCategory(Strict):
    """A category of attack (or of boundary request) a user adds to the built-in taxonomy."""

    name: str = Field(..., pattern=r"^[a-z0-9_]+$", description="snake_case id, e.g. refund_fraud")
    description: str = Field(..., min_length=10, description="what a case of this category asks the system to do")
    expected: str = Field(..., min_length=10, description="the safe behaviour, in one sentence")
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    should_refuse: bool = Field(True, description="true: the rules forbid what the case asks; false: an allowed "
                                                  "request that must be answered (a refusal is an over-refusal)")
    owasp: str | None = Field(None, description="OWASP Top 10 for LLM applications (2025) id, e.g. LLM01:2025")
    example: str | None = Field(None, description="one example input (few-shot for the generator)")


class RedteamTechnique(Strict):
    technique: Literal["redteam"] = "redteam"
    system: str = Field(..., description="the system under test: purpose, rules, what it must never do; "
                                         "inline text or a path to a .md/.txt file")
    categories: list[str] | None = Field(None, description="built-in category names to cover (default: all)")
    custom_categories: list[RedteamCategory] = Field(default_factory=list, description="categories of your own")
    strategies: list[str] = Field(
        default_factory=lambda: ["none"],
        description="strategies applied on top, each a name or a composition like roleplay+base64: "
        + ", ".join(STRATEGIES),
    )
    languages: list[str] = Field(default_factory=lambda: ["fr", "de", "es"],
                                 description="ISO 639-1 codes the `language` strategy translates into")
    judge: bool = Field(True, description="ask the model whether each case really is an attack (or, for allowed "
                                          "categories, really allowed) and reject the ones that are not")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, max_tokens=160))

    @field_validator("strategies")
    @classmethod
    def _strategies_known(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one strategy (none for the plain case)")
        for spec in v:
            parts = [p.strip() for p in spec.split("+")]
            for p in parts:
                if p not in STRATEGIES:
                    raise ValueError(f"unknown strategy {p!r} in {spec!r}: use {', '.join(STRATEGIES)} "
                                     "(compose with +, e.g. roleplay+base64)")
            if "multi_turn" in parts[:-1]:
                raise ValueError(f"{spec!r}: multi_turn splits the case into turns, so it must come last")
        return v

    @model_validator(mode="after")
    def _categories_known(self) -> "RedteamTechnique":
        from .redteam_taxonomy import TAXONOMY  # plain data, no heavy import

        custom = {c.name for c in self.custom_categories}
        for name in self.categories or []:
            if name not in TAXONOMY and name not in custom:
                raise ValueError(f"categories: unknown category {name!r}; built-in: {', '.join(TAXONOMY)} "
                                 "(or define it under custom_categories)")
        return self


class TranslateTechnique(Strict):
    technique: Literal["translate"] = "translate"
    input: str = Field(..., description="a JSONL file, or a run directory (its accepted records)")
    languages: list[str] = Field(..., min_length=1, description="target ISO 639-1 codes, e.g. [de, fr, es]")
    fields: list[str] = Field(..., min_length=1, description="the text fields to translate; every other field "
                                                             "(labels, ids) is copied as it is")
    source_language: str = Field("en", description="ISO 639-1 code of the source text")
    localize: bool = Field(False, description="adapt names, currencies, units and date formats to the target "
                                              "locale (numbers are then not required to survive unchanged)")
    keep: list[str] = Field(default_factory=list, description="extra terms (brand or product names) that must "
                                                              "appear unchanged in the translation")
    min_confidence: float = Field(0.5, ge=0, le=1, description="language-ID confidence a field needs")
    length_ratio: tuple[float, float] = Field((0.5, 2.2), description="allowed translated/source length ratio")
    back_translation: bool = Field(False, description="translate back to the source language and require an "
                                                      "embedding cosine of at least min_similarity")
    min_similarity: float = Field(0.7, ge=-1, le=1)
    id_field: str | None = Field(None, description="the field that identifies a source record (default: its "
                                                   "content id)")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.2, max_tokens=300))

    @field_validator("languages")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        out = [c.strip().lower() for c in v if c.strip()]
        for c in out:
            if not (2 <= len(c) <= 3 and c.isalpha()):
                raise ValueError(f"{c!r} is not an ISO 639-1 code; write e.g. de, fr, es")
        return out

    @model_validator(mode="after")
    def _ratio(self) -> "TranslateTechnique":
        lo, hi = self.length_ratio
        if not 0 < lo < hi:
            raise ValueError(f"length_ratio must be [low, high] with 0 < low < high (got {list(self.length_ratio)})")
        if self.source_language in self.languages:
            raise ValueError(f"languages: {self.source_language!r} is the source language; list only targets")
        return self


class LanguageGateConfig(Strict):
    """The language of each record, checked with language ID: the value of a `language` attribute axis
    sampled for it (any technique with attributes), or one fixed language."""

    gate: Literal["language"] = "language"
    axis: str = Field("language", description="the attribute axis whose sampled value names the language "
                                              "(an ISO 639-1 code or an English name: de, German)")
    language: str | None = Field(None, description="a fixed language instead of the axis")
    fields: list[str] | None = Field(None, description="fields whose text is checked; default: the whole record")
    source_language: str = Field("en", description="a text in this language is `language:source` (drift)")
    min_confidence: float = Field(0.5, ge=0, le=1)


ADVERSARIAL_KINDS = ("ambiguity", "sentiment_intent_mismatch", "negation", "mixed_intents", "indirect_request",
                     "typos_slang", "code_switching")


class ClassifierTarget(Strict):
    """A classifier to attack: any OpenAI-compatible endpoint, asked for one label per text."""

    base_url: str = Field(..., description="e.g. http://127.0.0.1:8080/v1")
    model: str = Field(..., description="the model name the server knows")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    task: str | None = Field(None, description="what the labels mean, told to the classifier (default: the "
                                               "technique's task)")
    keep: Literal["all", "fooled"] = Field("all", description="fooled: keep only the examples it gets wrong")


class AdversarialTechnique(Strict):
    technique: Literal["adversarial"] = "adversarial"
    labels: list[str] | dict[str, str] | str = Field(
        ..., description="the label set: a list, a mapping label -> description, or a YAML/JSON file of either")
    task: str = Field(..., min_length=5, description="what is classified, e.g. 'the intent of a customer support "
                                                     "message'")
    kinds: list[str] = Field(default_factory=lambda: list(ADVERSARIAL_KINDS),
                             description="difficulty kinds: " + ", ".join(ADVERSARIAL_KINDS))
    text_field: str = Field("text", description="the field that holds the generated text")
    verify: bool = Field(True, description="an independent pass (the generator's model) must predict the "
                                           "intended label, else `label_mismatch`")
    classifier: ClassifierTarget | None = Field(None, description="a classifier to attack (optional)")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, max_tokens=120))

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one difficulty kind")
        for k in v:
            if k not in ADVERSARIAL_KINDS:
                raise ValueError(f"unknown kind {k!r}: use {', '.join(ADVERSARIAL_KINDS)}")
        return v
