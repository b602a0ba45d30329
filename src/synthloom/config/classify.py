"""Labelled text for classifiers: `technique: classification`, `technique: augment`, and the
`gate: reference` check of any output against a real sample."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from .common import Sampling, Strict, without_empty
from .models import ModelConfig
from .samplers import SAMPLERS_FIELD, SamplerConfig

# Mild on purpose: on the bundled 270M model a `channel` axis (app review, phone transcript) pulled the
# texts off their label; add such axes with `attributes:` when the writer is bigger.
DEFAULT_AXES: dict[str, list[str]] = {
    "length": ["a few words", "one sentence", "two sentences"],
    "register": ["casual", "polite", "annoyed"],
    "noise": ["without typos", "without typos", "with a typo or slang"],
}


class VerifySettings(Strict):
    """Label verification: an independent pass predicts the label without seeing the intended one."""

    enabled: bool = True
    action: Literal["reject", "flag", "relabel"] = Field(
        "reject", description="a record whose predicted label differs: reject it, keep it flagged (meta.label_flagged), "
        "or relabel it with the predicted label (meta.relabelled_from); the same for the embedding check (checks: relevant)")
    model: ModelConfig | None = Field(None, description="checker model; default: the generator's model (another prompt)")
    max_tokens: int = Field(48, gt=0)


class HardCases(Strict):
    boundary: list[list[str]] = Field(
        default_factory=list,
        description="label pairs [A, B]: some A texts also use B's vocabulary, and are still A",
    )
    boundary_share: float = Field(0.2, ge=0, le=1, description="share of a paired label's records written as boundary cases")
    out_of_scope: str | None = Field(
        None, description="a label of the set for texts that fit none of the others (negatives): its writer is told "
        "what the other labels are, to stay clear of them")

    @field_validator("boundary")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for pair in v:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"hard_cases.boundary: {pair!r} must be two different labels, e.g. [refund, cancellation]")
        return v


class _LabelledText(Strict):
    text_field: str = Field("text", description="output field of the text")
    label_field: str = Field("label", description="output field of the label")
    verify: VerifySettings = Field(default_factory=VerifySettings)
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, max_tokens=160))
    max_chars: int = Field(400, gt=20, description="longest text; a text that reaches it was cut and is rejected")
    min_words: int = Field(3, ge=1, description="shortest text in words")

    @model_validator(mode="after")
    def _fields_differ(self):
        if self.text_field == self.label_field:
            raise ValueError("text_field and label_field must differ")
        return self


class ClassificationTechnique(_LabelledText):
    technique: Literal["classification"] = "classification"
    labels: str | list[dict[str, Any]] | dict[str, Any] = Field(
        ..., description="the label set: a YAML file, or a list of {name, description, examples, counter_examples, weight}")
    task: str | None = Field(None, description="what is being classified (default: the label set's `task`)")
    multi_label: bool | None = Field(None, description="several labels per text (default: the label set's `multi_label`)")
    distribution: Literal["balanced", "weights"] | dict[str, int] = Field(
        "balanced", description="balanced, weights (each label's weight), or explicit counts per label (adding up to count)")
    attributes: dict[str, list[str]] | None = Field(
        None, description="variety axes, one value sampled per record (default: length, register, noise); {} for none")
    samplers: dict[str, SamplerConfig] = SAMPLERS_FIELD
    hard_cases: HardCases = Field(default_factory=HardCases)
    # 0.7: on a driving school's 12 labels (bundled model, seed 0, 40 records each, read by hand) 11 read as
    # good at 0.7, 7 at 0.9 (garbled, the school's voice) and 7 at 0.5 (the examples' phrases spliced together),
    # with distinct-2 0.73 against 0.77 at 0.9 (docs/benchmarks_junk.md)
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.7, max_tokens=160))
    # 1: on the bundled model best_of 3 read as good as often as 1 (driving 11/40 both; campsite 0 -> 2 of 20)
    # for 37% more calls (docs/benchmarks_junk.md), so it is opt-in
    best_of: int = Field(
        1, ge=1, le=16, description="candidates written per slot (other seeds, one batched call); the one whose label "
        "PMI under the bundled model is highest is kept, the others are rejected as best_of:outranked (1: no ranking)")
    prompt_form: Literal["auto", "document", "chat"] = Field(
        "auto", description="how the writer is asked: document (messages listed under their labels' descriptions, "
        "continued by one more line: what a base model writes best), chat (instructions and worked examples as "
        "turns, a JSON answer); auto: document when the writer is a base model (the bundled one) and no attributes "
        "or samplers are set, which a document cannot say, else chat")
    max_sentences: int | None = Field(
        None, ge=1, description="most sentences in a text, more is rejected (`too_long`); off by default: on the "
        "bundled model a limit of 2 made the synthetic-only classifier worse (docs/benchmarks_junk.md)")

    @model_serializer(mode="wrap")
    def _without_empty_samplers(self, handler):
        return without_empty(handler(self), "samplers")

    @model_validator(mode="after")
    def _axes(self) -> "ClassificationTechnique":
        for axis, values in (self.attributes or {}).items():
            if not values:
                raise ValueError(f"attributes.{axis} has no values: give at least one, or remove the axis")
        return self

    def check_count(self, count: int) -> None:
        if isinstance(self.distribution, dict) and sum(self.distribution.values()) != count:
            raise ValueError(f"generate.distribution: the counts add up to {sum(self.distribution.values())}, but count "
                             f"is {count}: make them add up to the count (or use distribution: balanced / weights)")

    def axes(self) -> dict[str, list[str]]:
        return DEFAULT_AXES if self.attributes is None else self.attributes


AUGMENT_OPERATIONS = ("paraphrase", "register", "length", "entities", "typos", "translate")
# operations when the recipe names none; a base writer asked in the document form gets the three that form can
# do (paraphrase, entities, typos): on the bundled model register and length read good about 1 time in 20
# in the chat form, the document form's slots 10 in 20 (docs/benchmarks_junk.md)
DEFAULT_OPERATIONS = ("paraphrase", "register", "length", "entities", "typos")
DOCUMENT_OPERATIONS = ("paraphrase", "entities", "typos")


class AugmentTechnique(_LabelledText):
    technique: Literal["augment"] = "augment"
    data: str = Field(..., description="the real labelled file: JSONL or CSV with the text and label fields")
    labels: str | list[dict[str, Any]] | dict[str, Any] | None = Field(
        None, description="optional label set (descriptions help the checker); default: the labels found in the data")
    operations: list[Literal["paraphrase", "register", "length", "entities", "typos", "translate"]] | None = Field(
        None, description="how a variation differs from its source row; translate goes there and back (set "
        "translate_via); default: paraphrase, register, length, entities, typos, and for a base writer in the "
        "document form (prompt_form auto or document) paraphrase, entities, typos")
    translate_via: str = Field("German", description="translate: the language of the round trip")
    task: str | None = Field(None, description="what is being classified (helps the checker)")
    max_overlap: float = Field(
        0.6, gt=0, le=1, description="reject a variation whose word 4-grams overlap its source row (or any real row) more than this")
    prompt_form: Literal["auto", "document", "chat"] = Field(
        "auto", description="document: the label's real rows as a list the model continues (paraphrase, entities, typos; "
        "register, length and translate keep the chat form); chat: an instruction with a worked example; "
        "auto: document for a base model (the bundled one), chat otherwise")

    @field_validator("operations")
    @classmethod
    def _ops(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("operations is empty: name at least one of " + ", ".join(AUGMENT_OPERATIONS))
        return v


class ReferenceGateConfig(Strict):
    """Checks against a real sample: no near-copies of real records, no unexpected PII; the report
    compares the synthetic set with the real one (labels, lengths, vocabulary, two-sample AUC)."""

    gate: Literal["reference"] = "reference"
    path: str = Field(..., description="the real sample: JSONL or CSV")
    text_field: str = Field("text", description="field of the real records holding the text")
    label_field: str | None = Field(None, description="field of the real records holding the label (for the report)")
    fields: list[str] | None = Field(None, description="fields of a synthetic record compared; default: text_field")
    max_overlap: float = Field(0.6, gt=0, le=1, description="reject when this share of a record's word 4-grams occur in one real record")
    max_similarity: float | None = Field(
        None, gt=0, le=1, description="also reject when the cosine similarity (MiniLM) to a real record reaches this")
    pii: Literal["flag", "reject", "off"] = Field("flag", description="PII in the output: flag (meta.pii), reject, or off")
    pii_allow: list[str] = Field(default_factory=list, description="PII strings that are fine (a support address, a test card)")
