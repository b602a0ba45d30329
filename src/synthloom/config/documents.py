"""Document-grounded techniques: extraction, synthetic documents, RAG QA, and their gates.

    extract    real documents + a JSON schema -> (document, extraction) pairs
    documents  a JSON schema -> (synthetic document, ground-truth JSON) pairs
    qa         a knowledge base -> question / answer / evidence / source ids rows

Entity rules (`rules:`) are declarative checks on an extracted or labelled object;
each failure rejects the candidate with reason `rule:<name>`.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_serializer, model_validator

from .common import Narrowing, Sampling, Strict, without_empty
from .samplers import SAMPLERS_FIELD, SamplerConfig

# ---------------------------------------------------------------- ingestion


class Chunking(Strict):
    """How documents are cut into chunks."""

    size: int = Field(1500, gt=0, description="largest chunk, in `unit`s")
    overlap: int = Field(150, ge=0, description="text repeated from the end of the previous chunk, in `unit`s")
    unit: Literal["chars", "tokens"] = Field("chars", description="tokens are approximated as 4 characters")
    respect_headings: bool = Field(True, description="start a new chunk at a heading when the current one is not tiny")

    @model_validator(mode="after")
    def _overlap_smaller(self) -> "Chunking":
        if self.overlap >= self.size:
            raise ValueError(f"chunking.overlap ({self.overlap}) must be smaller than chunking.size ({self.size})")
        return self


class DocsSource(Strict):
    """Where documents come from (shared by extract and qa)."""

    docs: str | list[str] = Field(..., description="a folder, a file, or a list of them (relative to the recipe)")
    text_field: str = Field("text", description=".json/.jsonl documents: the field that holds the text")
    id_field: str | None = Field(None, description=".json/.jsonl documents: the field that holds a document id")
    title_field: str | None = Field("title", description=".json/.jsonl documents: the field that holds a title")
    extensions: list[str] | None = Field(
        None, description="only read files with these suffixes (default: every supported type)"
    )


# ---------------------------------------------------------------- entity rules


class _Rule(Strict):
    name: str | None = Field(None, description="reason key: rejections read `rule:<name>` (default: the rule kind)")

    def key(self) -> str:
        return self.name or getattr(self, "rule")


class DateRule(_Rule):
    """The field holds a real calendar date (in one of `formats`), optionally within bounds."""

    rule: Literal["date"] = "date"
    field: str
    formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], description="strptime formats accepted")
    min: str | None = Field(None, description="earliest date, YYYY-MM-DD")
    max: str | None = Field(None, description="latest date, YYYY-MM-DD")


class RangeRule(_Rule):
    """A number (or every number a path reaches) lies within [min, max]."""

    rule: Literal["range"] = "range"
    field: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> "RangeRule":
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs min, max, or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range rule on {self.field}: min ({self.min}) > max ({self.max})")
        return self


class SumRule(_Rule):
    """The numbers at `items` (e.g. `line_items[].amount`) add up to `total`, within `tolerance`."""

    rule: Literal["sum"] = "sum"
    items: str = Field(..., description="path to the addends, e.g. line_items[].amount")
    total: str = Field(..., description="path to the total, e.g. total")
    tolerance: float = Field(0.01, ge=0, description="absolute difference allowed")


class InDocumentRule(_Rule):
    """Extracted strings occur in the source document (case, spacing and punctuation normalized)."""

    rule: Literal["in_document"] = "in_document"
    fields: list[str] | None = Field(None, description="paths to check; default: every string value")
    numbers: bool = Field(False, description="also check numbers (any common formatting counts)")


class PatternRule(_Rule):
    """A string field matches a regular expression (Python `re.fullmatch`)."""

    rule: Literal["pattern"] = "pattern"
    field: str
    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        import re

        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from exc
        return v


class OrderRule(_Rule):
    """`field` comes after (or before) another field: dates (YYYY-MM-DD) or numbers. With dates,
    `within_days` bounds the gap and `min_days` sets the least gap (`{rule: order, field: end_date,
    after: start_date, within_days: 120}`)."""

    rule: Literal["order"] = "order"
    field: str
    after: str | None = Field(None, description="the field this one must not come before")
    before: str | None = Field(None, description="the field this one must not come after")
    within_days: int | None = Field(None, ge=0, description="dates: at most this many days apart")
    min_days: int = Field(0, ge=0, description="dates: at least this many days apart (0: the same day is fine)")

    @model_validator(mode="after")
    def _one_side(self) -> "OrderRule":
        if (self.after is None) == (self.before is None):
            raise ValueError(f"order rule on {self.field}: give exactly one of `after` or `before`")
        return self


class DistinctRule(_Rule):
    """The fields hold different values (e.g. seller and buyer are not the same party)."""

    rule: Literal["distinct"] = "distinct"
    fields: list[str] = Field(..., min_length=2, description="paths whose values must all differ")


EntityRule = Annotated[
    Union[DateRule, RangeRule, SumRule, InDocumentRule, PatternRule, DistinctRule, OrderRule],
    Field(discriminator="rule")
]


# ---------------------------------------------------------------- techniques


class ExtractTechnique(DocsSource):
    """Real documents + a JSON schema -> the model extracts -> (document, extraction) training pairs."""

    technique: Literal["extract"] = "extract"
    json_schema: dict[str, Any] | str = Field(
        ..., alias="schema", description="JSON schema of one extraction: inline, or a .json/.yaml file"
    )
    instruction: str | None = Field(None, description="what to extract (default: from the schema's title/description)")
    chunking: Chunking = Field(default_factory=lambda: Chunking(size=3000, overlap=0))
    examples: list[dict[str, Any]] = Field(
        default_factory=list,
        description="few-shot examples: each {document: text, extraction: object}",
    )
    rules: list[EntityRule] = Field(default_factory=list, description="entity checks on each extraction")
    emit: Literal["pair", "messages"] = Field(
        "pair",
        description="pair: {document, extraction}; messages: chat turns (system: the schema, user: the document, "
        "assistant: the JSON)",
    )
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.2, max_tokens=512))
    model_config = Strict.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _examples_shape(self) -> "ExtractTechnique":
        for i, ex in enumerate(self.examples):
            if "document" not in ex or "extraction" not in ex:
                raise ValueError(f"examples[{i}] needs both `document` (text) and `extraction` (object)")
        return self


class DocumentsTechnique(Strict):
    """A JSON schema -> a ground-truth record -> a realistic document that contains exactly it."""

    technique: Literal["documents"] = "documents"
    json_schema: dict[str, Any] | str = Field(
        ..., alias="schema", description="JSON schema of the ground truth: inline, or a .json/.yaml file"
    )
    document_type: str = Field("document", description="what to write, e.g. invoice, email, report")
    instruction: str | None = Field(None, description="extra guidance for the ground-truth records")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict, description="style axes: each document gets one sampled value per axis"
    )
    samplers: dict[str, SamplerConfig] = SAMPLERS_FIELD
    names: dict[str, Literal["person", "business", "id"]] | Literal["model"] = Field(
        "model", description="fields whose value is drawn before decoding instead of written by the model: "
        "{field: person|business|id}; `person` and `business` get a distinct made-up name (sources/names.py), "
        "`id` a fresh identifier in the shape of the field's example (`e.g. AP-0093` -> `AP-5821`); "
        "`model` (the default): the model writes every field")
    narrowing: Narrowing = Field(default_factory=lambda: Narrowing(),
                                 description="what the decoder learns from the schema and the examples")
    examples: list[dict[str, Any]] = Field(
        default_factory=list,
        description="few-shot examples: each {label: object, document: text}",
    )
    derive: list[Derive] = Field(
        default_factory=list, description="fields computed from others in each label (e.g. totals), before checks"
    )
    rules: list[EntityRule] = Field(default_factory=list, description="entity checks on each ground-truth record")
    match: Literal["exact", "normalized"] = Field(
        "normalized", description="how a labelled value must appear in the document"
    )
    reject_invented: list[Literal["date", "amount"]] = Field(
        default_factory=lambda: ["date"],
        description="reject documents that mention dates/amounts absent from the label",
    )
    skip_fields: list[str] = Field(
        default_factory=list, description="label paths not required to appear verbatim (e.g. derived ids)"
    )
    emit: Literal["pair", "messages"] = Field(
        "pair",
        description="pair: {document, label}; messages: chat turns for an extractor (system: the schema, "
        "user: the document, assistant: the label as JSON)",
    )
    label_sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.9, max_tokens=384))
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.7, max_tokens=512))
    prompt_form: Literal["auto", "document", "chat"] = Field(
        "auto", description="how the writer is asked for the document: document (the examples as filled-in "
        "documents one after another, each its `field: value` lines then its text with the values as {field} slots, "
        "the new record's block left open, the slots the model writes filled from the record: what a base model "
        "continues best), chat (instructions, the record in <record> tags, worked turns); auto: "
        "document when the writer is a base model (the bundled one) and no attributes or samplers are set, else chat")
    write_tries: int | None = Field(
        None, ge=1, le=8, description="documents written for one record before it is given up: a document that lost, "
        "invented or misattributed a value is rejected and the same record written again (new seed), so a failed "
        "document costs one call, not a new record too; default: 3 in the document form, 1 in the chat form")
    reject_copies: bool = Field(
        False, description="the document form: show the examples in a seeded order per write and reject a document that "
        "is an example's text with its values swapped (copied_example), on every try but the last; off by default: on "
        "the bundled model it cut accepted documents (docs/benchmarks_junk.md)")
    model_config = Strict.model_config | {"populate_by_name": True}

    @model_serializer(mode="wrap")
    def _without_empty_samplers(self, handler):
        return without_empty(handler(self), "samplers")

    @model_validator(mode="after")
    def _check(self) -> "DocumentsTechnique":
        for axis, values in self.attributes.items():
            if not values:
                raise ValueError(f"attributes.{axis} has no values: give at least one, or remove the axis")
        for i, ex in enumerate(self.examples):
            if "document" not in ex or "label" not in ex:
                raise ValueError(f"examples[{i}] needs both `label` (object) and `document` (text)")
        return self


class Derive(Strict):
    """Compute a label field from others before the document is written (small models are poor at sums).

    `product: [quantity, unit_price]` with `field: line_items[].amount` sets each item's amount;
    `sum: line_items[].amount` with `field: total` sets the total. Applied in order, rounded to `digits`.
    """

    field: str = Field(..., description="the field to set: `total`, or `items[].amount` for every item")
    sum: str | None = Field(None, description="path of the numbers to add, e.g. line_items[].amount")
    product: list[str] | None = Field(None, description="sibling fields to multiply, e.g. [quantity, unit_price]")
    digits: int = Field(2, ge=0, le=10)

    @model_validator(mode="after")
    def _one_op(self) -> "Derive":
        if (self.sum is None) == (self.product is None):
            raise ValueError(f"derive {self.field}: give exactly one of `sum` or `product`")
        return self


QAKind = Literal["factual", "multi_hop", "unanswerable"]


class QATechnique(DocsSource):
    """A knowledge base -> RAG evaluation rows: question, answer, evidence, source_ids, kind."""

    technique: Literal["qa"] = "qa"
    chunking: Chunking = Field(default_factory=lambda: Chunking(size=1200, overlap=100))
    kinds: dict[str, float] = Field(
        default_factory=lambda: {"factual": 0.6, "multi_hop": 0.25, "unanswerable": 0.15},
        description="share of each kind of question: factual, multi_hop, unanswerable",
    )
    personas: list[str] = Field(
        default_factory=lambda: [
            "a new customer", "a support agent", "a curious student", "a busy manager", "a skeptical engineer",
        ],
        description="who asks: one is sampled per question",
    )
    phrasings: list[str] = Field(
        default_factory=lambda: [
            "a direct what/which question", "a how question", "a why question", "a yes/no question",
            "a request starting with 'Tell me'", "a short keyword-style query",
        ],
        description="how the question is phrased: one is sampled per question",
    )
    unanswerable_answer: str = Field(
        "The knowledge base does not contain this information.",
        description="reference answer for unanswerable questions",
    )
    judge: bool = Field(True, description="ask the model whether each answer is supported by its evidence")
    prompt_form: Literal["auto", "document", "chat"] = Field(
        "auto", description="factual questions: document (a reading-check sheet a base model continues: 'Sentence:', "
                            "'Question:', 'Answer:' lines, no persona or phrasing), chat (system text and JSON turns), "
                            "or auto (document when every writer is a base model, as the bundled one is)",
    )
    near_duplicate: float = Field(
        0.8, gt=0, le=1, description="reject a question whose character 3-gram Jaccard with an accepted one is >= this"
    )
    min_answer_overlap: float = Field(
        0.5, ge=0, le=1,
        description="share of an answer's content words that must come from its evidence or question (longer answers)",
    )
    min_chunk_chars: int = Field(200, ge=0, description="chunks shorter than this are not used as question sources")
    max_evidence_sentences: int = Field(40, gt=0, description="sentences of a chunk offered as evidence choices")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.8, max_tokens=256))

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = {"factual", "multi_hop", "unanswerable"}
        bad = set(v) - allowed
        if bad:
            raise ValueError(f"kinds: unknown kind(s) {sorted(bad)}; use {sorted(allowed)}")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("kinds: shares must be >= 0 and at least one > 0")
        return v

    @field_validator("personas", "phrasings")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one value")
        return v


# ---------------------------------------------------------------- gates


class EntitiesGateConfig(Strict):
    """Validate an object (the record, or one of its fields) against a schema and entity rules."""

    gate: Literal["entities"] = "entities"
    target: str | None = Field(None, description="field holding the object to check (default: the whole record)")
    document: str | None = Field(None, description="field holding the source text (for in_document rules)")
    json_schema: dict[str, Any] | str | None = Field(None, alias="schema")
    rules: list[EntityRule] = Field(default_factory=list)
    model_config = Strict.model_config | {"populate_by_name": True}


class GroundingGateConfig(Strict):
    """Every evidence quote occurs verbatim (normalized) in the cited source chunks."""

    gate: Literal["grounding"] = "grounding"
    evidence: str = "evidence"
    contexts: str = Field("contexts", description="record field, or meta key, holding the cited chunk texts")
    allow_empty_for: list[str] = Field(default_factory=lambda: ["unanswerable"], description="kinds with no evidence")


class SupportGateConfig(Strict):
    """The model judges (yes/no, constrained) whether the answer is supported by the evidence."""

    gate: Literal["support"] = "support"
    question: str = "question"
    answer: str = "answer"
    evidence: str = "evidence"
    skip_kinds: list[str] = Field(default_factory=lambda: ["unanswerable"])


class RecoverableGateConfig(Strict):
    """Every labelled value can be found in the document (exact or normalized)."""

    gate: Literal["recoverable"] = "recoverable"
    label: str = "label"
    document: str = "document"
    match: Literal["exact", "normalized"] = "normalized"
    skip_fields: list[str] = Field(default_factory=list)
    reject_invented: list[Literal["date", "amount"]] = Field(default_factory=list)

