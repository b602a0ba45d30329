"""Schema-driven generation: records described by a JSON schema and an instruction."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from .common import Narrowing, Sampling, Strict, without_empty
from .documents import EntityRule
from .samplers import SAMPLERS_FIELD, SamplerConfig


class SchemaTechnique(Strict):
    technique: Literal["schema"] = "schema"
    instruction: str | None = Field(
        None, description="what the records are about; optional: the schema's titles and descriptions guide the content"
    )
    json_schema: dict[str, Any] | str = Field(
        ...,
        alias="schema",
        description="a JSON schema inline (YAML mapping), a path to a .json/.yaml file, or a pydantic model as module:Class",
    )
    examples: list[Any] = Field(default_factory=list, description="few-shot example records (values of the schema: "
                                "objects, or arrays/strings for a schema whose root is one)")
    attributes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="diversity axes: each record is generated for one sampled value per axis",
    )
    samplers: dict[str, SamplerConfig] = SAMPLERS_FIELD
    wrap: str | None = Field(
        None, min_length=1,
        description="store each value under this one field ({FIELD: value}) instead of as the schema describes "
        "it; for a schema whose root is an array, a string or a union, when named fields are wanted downstream",
    )
    rules: list[EntityRule] = Field(
        default_factory=list, description="cross-field rules each record must keep, e.g. "
        "{rule: order, field: end_date, after: start_date}, {rule: distinct, fields: [home, away]}; "
        "a record that breaks one is rejected as `rule:<name>` and retried")
    narrowing: Narrowing = Field(default_factory=lambda: Narrowing(),
                                 description="what the decoder learns from the schema and the examples")
    sampling: Sampling = Field(default_factory=Sampling)
    retries: int = Field(
        3, ge=0, le=4,
        description="tries after a failed one within an attempt, each with a narrower decoding schema "
        "(shorter strings, fewer items, then required fields only); records are always validated "
        "against the schema as written",
    )

    model_config = Strict.model_config | {"populate_by_name": True}

    @model_serializer(mode="wrap")
    def _without_unset_options(self, handler):
        return without_empty(handler(self), "wrap", "samplers")

    @model_validator(mode="after")
    def _axes_not_empty(self) -> "SchemaTechnique":
        for axis, values in self.attributes.items():
            if not values:
                raise ValueError(f"attributes.{axis} has no values: give at least one, or remove the axis")
        both = sorted(set(self.attributes) & set(self.samplers))
        if both:
            raise ValueError(f"{', '.join(both)}: declared both as an attribute axis and as a sampler; keep one")
        return self
