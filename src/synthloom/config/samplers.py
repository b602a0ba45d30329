"""Samplers: how a recipe plans its variety before generating (`samplers:` of a technique).

Each sampler draws one value per record, seeded by the slot, so a re-run draws the same values. The
values are shown in the prompt, pinned in the decoder when a sampler is named like a schema property
(as an attribute axis is), and kept in each record's lineage (`meta.attributes`). Samplers are drawn
in the order written; a sampler may use the values of those above it (`of:`, `when:`, `template:`).
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from .common import Strict


SHOW = Field(True, description="show the value in the prompt; false: only pinned, kept in lineage and "
             "readable by the samplers below")


def _weights(values: list[Any] | dict[str, float], where: str) -> None:
    if not values:
        raise ValueError(f"{where} has no values: give at least one")
    if isinstance(values, dict) and any(w < 0 for w in values.values()) or (
            isinstance(values, dict) and sum(values.values()) <= 0):
        raise ValueError(f"{where}: weights must be >= 0 and add up to more than 0")


class CategorySampler(Strict):
    """One of a list (even coverage, as an attribute axis), or of a mapping value -> weight."""

    kind: Literal["category"]
    show: bool = SHOW
    values: list[Any] | dict[str, float] = Field(..., description="[a, b, c], or {a: 3, b: 1} for weights")

    @model_validator(mode="after")
    def _check(self) -> "CategorySampler":
        _weights(self.values, "values")
        return self


class SubcategorySampler(Strict):
    """A value conditioned on the value of a category drawn above it (`of:`)."""

    kind: Literal["subcategory"]
    show: bool = SHOW
    of: str = Field(..., description="the sampler whose value picks the list")
    values: dict[str, list[Any] | dict[str, float]] = Field(
        ..., description="{parent value: [sub values]} or {parent value: {sub value: weight}}")

    @model_validator(mode="after")
    def _check(self) -> "SubcategorySampler":
        for parent, sub in self.values.items():
            _weights(sub, f"values.{parent}")
        return self


class NumberSampler(Strict):
    """A number from a scipy.stats distribution: uniform, norm, lognorm, poisson, expon, beta, binom, ..."""

    kind: Literal["number"]
    show: bool = SHOW
    distribution: str = Field(..., description="a scipy.stats distribution name, e.g. norm, lognorm, poisson")
    params: dict[str, float] = Field(default_factory=dict,
                                     description="its parameters, e.g. {loc: 50, scale: 10} or {mu: 3}")
    round: int | None = Field(None, ge=0, description="decimal places; 0 gives integers")
    min: float | None = Field(None, description="draws below are drawn again (then clipped)")
    max: float | None = Field(None, description="draws above are drawn again (then clipped)")


class DateSampler(Strict):
    """A date (or a date and time) evenly in [start, end]."""

    kind: Literal["date", "datetime"]
    show: bool = SHOW
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    format: str | None = Field(None, description="strftime format; default ISO 8601")

    @model_validator(mode="after")
    def _check(self) -> "DateSampler":
        def as_dt(d: dt.date) -> dt.datetime:
            return d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)

        if as_dt(self.end) < as_dt(self.start):
            raise ValueError(f"end ({self.end}) is before start ({self.start}): swap them")
        return self


class UUIDSampler(Strict):
    kind: Literal["uuid"]
    show: bool = SHOW


class PersonSampler(Strict):
    """A made-up person from Faker: {name, first_name, last_name, email, phone, address, city, country}."""

    kind: Literal["person"]
    show: bool = SHOW
    locale: str = Field("en_US", description="a Faker locale, e.g. en_US, de_DE, ja_JP, pt_BR")


class FakerSampler(Strict):
    """Any Faker provider: company, address, email, phone_number, city, job, iban, ..."""

    kind: Literal["faker"]
    show: bool = SHOW
    provider: str = Field(..., description="a Faker method, e.g. company, address, email, phone_number")
    locale: str = Field("en_US", description="a Faker locale, e.g. en_US, de_DE")
    args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the provider")


class ExpressionSampler(Strict):
    """A value computed from the samplers above it: a Jinja2 template, e.g. "{{ customer.first_name }}"."""

    kind: Literal["expression"]
    show: bool = SHOW
    template: str
    type: Literal["str", "int", "float", "bool"] = "str"


class RowsSampler(Strict):
    """Rows of the user's CSV/JSONL/Parquet file, several per record if asked."""

    kind: Literal["rows"]
    show: bool = SHOW
    path: str = Field(..., description="a .csv, .tsv, .jsonl, .json or .parquet file (relative to the recipe)")
    rows: int = Field(1, gt=0, description="rows per record; 1 gives the row, more a list of rows")
    replace: bool = Field(False, description="false: every row is used once before any is used again")
    stratify: str | None = Field(None, description="a column: each of its values gets the same share of records")


class PersonasSampler(Strict):
    """Points of view: read from a file (one a line), or written first by the model ("who would ask this?")."""

    kind: Literal["personas"]
    show: bool = SHOW
    path: str | None = Field(None, description="a text file with one persona a line (or .jsonl/.csv: `column`)")
    column: str = Field("persona", description="the column of a .jsonl/.csv file")
    count: int = Field(20, gt=0, le=500, description="how many the model writes (no `path`)")
    about: str | None = Field(None, description="what the personas ask or write about; default: the instruction")
    examples: list[str] = Field(default_factory=list, description="a few personas to show the model (few-shot)")


class TopicTreeSampler(Strict):
    """The model expands a root topic into a tree (breadth x depth); its leaves are the values."""

    kind: Literal["topic_tree"]
    show: bool = SHOW
    root: str | None = Field(None, description="the topic to expand; default: the instruction")
    breadth: int = Field(3, ge=1, le=12, description="subtopics per topic")
    depth: int = Field(2, ge=1, le=4, description="levels below the root")
    examples: list[str] = Field(default_factory=list, description="a few subtopics to show the model (few-shot)")


class Case(Strict):
    when: str = Field(..., description="a Jinja2 expression over the samplers above, e.g. \"plan == 'pro'\"")
    then: "SamplerConfig"


class ConditionalSampler(Strict):
    """The first case whose `when` holds gives the sampler; `otherwise` when none does."""

    kind: Literal["conditional"]
    show: bool = SHOW
    cases: list[Case]
    otherwise: "SamplerConfig | None" = None

    @field_validator("cases")
    @classmethod
    def _cases(cls, v: list[Case]) -> list[Case]:
        if not v:
            raise ValueError("cases is empty: give at least one {when: ..., then: ...}")
        return v


SamplerConfig = Annotated[
    Union[CategorySampler, SubcategorySampler, NumberSampler, DateSampler, UUIDSampler, PersonSampler,
          FakerSampler, ExpressionSampler, RowsSampler, PersonasSampler, TopicTreeSampler, ConditionalSampler],
    Field(discriminator="kind"),
]
Case.model_rebuild()
ConditionalSampler.model_rebuild()

SAMPLERS_FIELD = Field(
    default_factory=dict,
    description="variety planned before generating: {name: {kind: category|subcategory|number|date|datetime|uuid|"
    "person|faker|expression|rows|personas|topic_tree|conditional, ...}}; a sampler named like a schema "
    "property pins it (docs/variety.md)")
