"""`entities` gate: a record (or one field of it) against a JSON Schema and the entity rules in `rules.py`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..llm.jsontext import validator
from ..records import Record, Rejection
from .base import GateContext, StatelessGate, field_value
from .rules import validate_object


class EntitiesGate(StatelessGate):
    """`entities`: schema + entity rules on `target` (or the whole record)."""

    name = "entities"
    stage = "validate"

    def __init__(self, *, target: str | None = None, document: str | None = None,
                 schema: Mapping[str, Any] | None = None, rules: Sequence[Any] = ()) -> None:
        self.target, self.document, self.rules = target, document, list(rules)
        self.validator = validator(schema, "entities gate schema") if schema else None

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        obj = field_value(rec, self.target) if self.target else rec.data
        if obj is None:
            return Rejection.of(rec, self.stage, "rule:missing_target", f"record has no field {self.target!r}")
        doc = field_value(rec, self.document) if self.document else None
        problem = validate_object(obj, validator=self.validator, rules=self.rules,
                                  document=doc if isinstance(doc, str) else None)
        return rec if problem is None else problem.reject(rec, self.stage)


def build(config: Any, base_dir: Any) -> StatelessGate:
    """quality.GATES entry for `gate: entities` (config.documents.EntitiesGateConfig)."""
    schema = None
    if config.json_schema is not None:
        from ..llm.schema_files import load_schema

        schema = load_schema(config.json_schema, Path(base_dir), "quality.entities.schema")
    return EntitiesGate(target=config.target, document=config.document, schema=schema, rules=config.rules)
