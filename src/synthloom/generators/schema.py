"""Schema-driven generation: an instruction + a JSON schema -> records that validate.

Each slot samples one value per attribute axis (kept in lineage), picks a few
of the user's examples as few-shot turns, and asks for one record with the
schema attached, so a constraining backend decodes valid JSON by construction.
What the grammar cannot express (formats, uniqueItems, some patterns) is checked
here with jsonschema; a failing record is rejected with the reason, and the next
slot tries again with another seed.

A record is whatever the schema's root describes: an object, or an array, a string, a number, a union
(`type: [object, boolean]`). With `wrap: FIELD` each value is stored as `{FIELD: value}` instead.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config.schema_gen import SchemaTechnique
from ..llm import narrowing, runaway
from ..llm.jsontext import validator
from ..llm.types import GenerationRequest, GenerationResult
from ..prompts import load as load_prompt
from ..quality.rules import describe_rule, validate_object
from ..records import Record, Rejection, fields_of
from .base import GenContext, Generator, parse_value
from .variety import Variety
from .schema_io import (field_summary, first_error, load_schema, require_named_fields, root_in_words, root_types,
                        with_implied_root_type)

MAX_SHOTS = 3
# The first try decodes the schema with no caps on strings or arrays beyond the schema's own, with
# the shared runaway defences (llm/runaway.py) and what the schema and the examples show
# (llm/narrowing.py: shapes of codes, calendar dates in the examples' era, the examples' precision);
# retries walk the narrowing ladder, whose caps on free strings and lists come from the examples
# where there are any. Records are still validated against the schema as written, then against
# the recipe's `rules:`, and a value the decoder closed at its length bound is rejected
# (`truncated_value`) and retried.
FIRST_TRY = runaway.FIRST_TRY


def parse_result(result: GenerationResult, schema_validator, meta: dict[str, Any],
                 shown: dict[str, set[str]] | None = None, rules: list[Any] = ()) -> Record | Rejection:
    """Turn one model answer into a validated record (any JSON value the schema allows) or a rejection.
    `shown`: example values a record must not repeat (`runaway.example_values`); with it, the shared
    checks (`runaway.record_problem`) run on a valid record too. `rules`: the recipe's cross-field rules
    (`rule:<name>` on a break)."""
    value, rejection = parse_value(result, meta, getattr(schema_validator, "schema", None))
    if rejection is not None:
        return rejection
    err = first_error(schema_validator, value)
    if err is None and rules:
        err = validate_object(value, rules=rules)
    if err is None and shown is not None:
        err = runaway.record_problem(value, shown)
    if err:
        return Rejection(stage="validate", reason=err[0], detail=err[1], data=value, raw=result.text, meta=meta)
    return Record(data=value, meta=meta)


def _label_like(subschema: Any) -> bool:
    """A field that labels the record rather than holding its text: a choice among fixed values."""
    return isinstance(subschema, dict) and ("enum" in subschema or "const" in subschema
                                            or subschema.get("type") == "boolean")


class SchemaGenerator(Generator):
    technique = "schema"

    def __init__(self, config: SchemaTechnique, base_dir: Path) -> None:
        self.config = config
        self.schema = load_schema(config.json_schema, base_dir)
        require_named_fields(self.schema, config.attributes)
        self.variety = Variety(config.samplers, base_dir, config.instruction)  # generators/variety.py
        self.validator = validator(self.schema)
        self._decode = with_implied_root_type(self.schema)  # what the decoder is given (validation: self.schema)
        self.system_prompt = load_prompt("schema_system")
        self.user_prompt = load_prompt("schema_user")
        self._system_text = self.system_prompt.render(
            instruction=config.instruction,
            title=self.schema.get("title", ""),
            description=self.schema.get("description", ""),
            fields=field_summary(self.schema),
            root=root_in_words(self._decode),
        )
        # a root that may be something else than an object (array, string, union): every record says so in its
        # lineage, so that the writers put all of them in one value column, objects included
        types = root_types(self._decode)
        self._root = "/".join(sorted(types)) if types and types != {"object"} and not config.wrap else None
        self._asks: dict[tuple[tuple[str, str], ...], str] = {}
        self._pinned: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._first: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._hints = runaway.length_hints(self.schema, config.examples)
        n = config.narrowing
        self._narrowings = narrowing.learn(self.schema, config.examples, shapes=n.shapes, dates=n.dates,
                                           numbers=n.numbers, skip=n.skip)
        self._shown = runaway.example_values(self.schema, list(config.examples), schema_own=False)
        # and the decoder is told not to copy them (llamacpp: `constrain.CopyGuard`)
        self._avoid = runaway.shown_texts(self._shown)
        for i, ex in enumerate(config.examples):
            err = first_error(self.validator, ex)
            if err:
                from ..errors import RecipeError

                raise RecipeError(f"generate.examples[{i}] does not match the schema ({err[1]}); fix the example"
                                  + (" (examples are values of the schema itself, before wrap)" if config.wrap else ""))

    def shown_records(self) -> tuple[Any, ...]:
        return tuple({self.config.wrap: ex} if self.config.wrap else ex for ex in self.config.examples)

    def _ask(self, attributes: tuple[tuple[str, str], ...]) -> str:
        text = self._asks.get(attributes)
        if text is None:  # one render per attribute combination, not per slot
            text = self._asks[attributes] = self.user_prompt.render(attributes=dict(attributes))
        return text

    def describe(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "templates": {p.name: p.hash for p in (self.system_prompt, self.user_prompt)},
            "attributes": self.config.attributes,
            "examples": len(self.config.examples),
            "narrowing": self._narrowings.lines(),
            "retries": runaway.RETRY_NOTE,
            "rules": [describe_rule(r) for r in self.config.rules],
            **({"wrap": self.config.wrap} if self.config.wrap else {}),
            **({"variety": self.variety.describe()} if self.variety else {}),
        }

    def schema_for(self, attributes: dict[str, str]) -> dict[str, Any]:
        """The schema with every attribute that names a field pinned to its sampled value.

        An axis called like a schema property (e.g. `category`) is not only a hint in
        the prompt: the decoder is constrained to that value, so the label distribution
        follows the sampled one (rare classes included).
        """
        # a sampled row or person is shown in the prompt, not pinned; a typed key: True is not 1
        attributes = {k: v for k, v in attributes.items() if isinstance(v, (str, int, float, bool))}
        key = tuple((k, type(v).__name__, v) for k, v in attributes.items())
        if key in self._pinned:
            return self._pinned[key]
        props = self._decode.get("properties") or {}
        pinned = {
            axis: value for axis, value in attributes.items()
            if isinstance(props.get(axis), dict) and validator({**props[axis]}).is_valid(value)
        }
        # pinned fields first, then the other label-like fields (enum, const, boolean): the decoder writes
        # properties in the order given, so the text is written after (and conditioned on) the labels it
        # must express, not before them
        new_props = {axis: {**props[axis], "enum": [value]} for axis, value in pinned.items()}
        new_props.update({k: v for k, v in props.items() if k not in new_props and _label_like(v)})
        new_props.update({k: v for k, v in props.items() if k not in new_props})
        schema = self._decode
        if pinned or list(new_props) != list(props):
            schema = {**self._decode, "properties": new_props}
        self._pinned[key] = schema
        return schema

    def pinned_first(self, record: Any, attributes: dict[str, str]) -> Any:
        """A few-shot record with its fields in the order the decoder writes them (label fields first)."""
        if not isinstance(record, dict):
            return record
        order = list(self.schema_for(attributes).get("properties") or {})
        return {**{k: record[k] for k in order if k in record}, **record}

    def schema_order(self, value: Any) -> Any:
        """A decoded record back in the schema's own field order (what the output file shows)."""
        if not isinstance(value, dict):
            return value
        order = list(self.schema.get("properties") or {})
        return {**{k: value[k] for k in order if k in value}, **value}

    def _first_try(self, attributes: dict[str, Any]) -> dict[str, Any]:
        key = tuple((k, type(v).__name__, v) for k, v in attributes.items())
        if len(self._first) > 4096:  # samplers make most combinations new: a bounded cache
            self._first.clear(), self._pinned.clear(), self._asks.clear()
        if key not in self._first:  # one narrowing per attribute combination, not per slot
            self._first[key] = runaway.attempt_schema(self.schema_for(attributes), 0, self._hints, self._narrowings)
        return self._first[key]

    def request_for(self, slot: int, ctx: GenContext) -> tuple[GenerationRequest, dict[str, Any]]:
        rng = ctx.rng(slot)
        attributes = {axis: ctx.balanced(slot, axis, values) for axis, values in self.config.attributes.items()}
        sampled = self.variety.draw(slot, ctx) if self.variety else {}
        pins = {**attributes, **{k: v for k, v in sampled.items() if isinstance(v, (str, int, float, bool))}}
        asked = {**attributes, **self.variety.shown(sampled)}
        shots = rng.sample(self.config.examples, k=min(MAX_SHOTS, len(self.config.examples)))
        messages: list[dict[str, str]] = [{"role": "system", "content": self._system_text}]
        for ex in shots:
            # the example's own values of the axes, asked for as the slot's are: same pattern, label first
            own = tuple((axis, ex[axis]) for axis in self.config.attributes if isinstance(fields_of(ex).get(axis), str))
            own += tuple((k, ex[k]) for k in pins if k not in self.config.attributes  # sampled, pinned: any scalar
                         and isinstance(fields_of(ex).get(k), (str, int, float, bool)))
            messages.append({"role": "user", "content": self._ask(own)})
            messages.append({"role": "assistant",
                             "content": json.dumps(self.pinned_first(ex, dict(own)), ensure_ascii=False)})
        messages.append({"role": "user", "content": self._ask(tuple(asked.items()))})
        s = self.config.sampling
        seed = ctx.request_seed(slot)
        req = GenerationRequest(
            messages=tuple(messages), json_schema=self._first_try(pins),
            max_tokens=s.max_tokens,
            temperature=s.temperature, top_p=s.top_p, seed=seed, avoid=self._avoid,
        )
        meta = {
            "technique": self.technique,
            "template": self.system_prompt.name,
            "template_hash": self.system_prompt.hash + self.user_prompt.hash,
            "attributes": {**attributes, **sampled},
            "seed": seed,
            "slot": slot,
            **({"root": self._root} if self._root else {}),
        }
        return req, meta

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        """One record; a failed try is kept as a rejection and retried on the next rung of the ladder."""
        await self.variety.prepare(ctx)  # personas and topic trees: written once, before the first record
        req, meta = self.request_for(slot, ctx)
        out: list[Record | Rejection] = []
        for attempt in range(1 + self.config.retries):
            if attempt:
                rung = runaway.rung_for(attempt)
                req = replace(req, json_schema=runaway.attempt_schema(self.schema_for(meta["attributes"]), attempt,
                                                                      self._hints, self._narrowings),
                              temperature=min(req.temperature, rung.temperature),
                              seed=ctx.request_seed(slot, attempt))
            (result,) = await ctx.llm.generate([req])
            item = parse_result(result, self.validator, {**meta, "model": result.model, "attempt": attempt + 1},
                                self._shown, self.config.rules)
            if isinstance(item, Record):
                value = self.schema_order(item.data)
                item = Record(data={self.config.wrap: value} if self.config.wrap else value, meta=item.meta)
            out.append(item)
            if isinstance(item, Record):
                break
        return out


def build(config: SchemaTechnique, base_dir: Path) -> SchemaGenerator:
    return SchemaGenerator(config, base_dir)
