"""Label verification: a second, independent pass predicts the label without seeing it.

Agreeing records get `meta.scores.label_agrees = True`. Disagreements are
rejected (reason `label_mismatch`) or, with `action: flag`, kept with
`label_agrees = False` and the predicted label, so the report can show the
agreement rate either way.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from ._llm import LLMGateMixin, show
from .base import GateContext, StatelessGate
from .text import field_value


def _norm(label: Any) -> str:
    return " ".join(str(label).strip().lower().split())


class LabelGate(LLMGateMixin, StatelessGate):
    name = "label"
    stage = "label"

    def __init__(self, *, labels: list[str], label_field: str = "label", fields: list[str] | None = None,
                 task: str | None = None, action: str = "reject", model: Any = None, max_tokens: int = 48) -> None:
        self.labels = list(labels)
        self.label_field = label_field
        self.fields = fields
        self.task = task
        self.action = action
        self.own_model = model
        self.max_tokens = max_tokens
        self.system = load_prompt("label_system")
        self.user = load_prompt("label_user")
        self.agreed = 0
        self.disagreed = 0


    @property
    def agreement_rate(self) -> float | None:
        n = self.agreed + self.disagreed
        return self.agreed / n if n else None

    def request(self, rec: Record, ctx: GateContext) -> GenerationRequest:
        text = show(rec.data, self.fields, exclude=(self.label_field,))
        # the labels in a per-record order: a model's bias for the first option must not become a label bias
        order = list(self.labels)
        random.Random(self.seed_for(rec, ctx, "label-order")).shuffle(order)
        schema = object_schema({"label": {"type": "string", "enum": order}})
        messages = ({"role": "system", "content": self.system.render(task=self.task, labels=order)},
                    {"role": "user", "content": self.user.render(text=text)})
        return GenerationRequest(messages=messages, json_schema=schema, max_tokens=self.max_tokens,
                                 temperature=0.0, seed=self.seed_for(rec, ctx, "label"), purpose="label")

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        given = field_value(rec.data, self.label_field, "gate label: label_field")
        if given is None:
            return Rejection.of(rec, "label", "label_missing", f"the record has no field {self.label_field!r}")
        if _norm(given) not in {_norm(x) for x in self.labels}:
            return Rejection.of(rec, "label", "label_unknown",
                                f"label {given!r} is not one of {', '.join(map(repr, self.labels))}")
        res = await self.call(ctx, self.request(rec, ctx))
        obj = res.parsed_object
        predicted = obj.get("label") if obj else None
        known = {_norm(x): x for x in self.labels}
        if predicted is None or _norm(predicted) not in known:
            return Rejection.of(rec, "label", "label_error",
                                res.error or f"the checker gave no valid label: {res.text[:120]!r}")
        predicted = known[_norm(predicted)]
        agrees = _norm(given) == _norm(predicted)
        out = rec.with_scores(label_agrees=agrees, label_predicted=predicted)
        if agrees:
            self.agreed += 1
            return out
        self.disagreed += 1
        if self.action == "flag":
            return out.with_meta(label_flagged=True)
        return Rejection.of(out, "label", "label_mismatch",
                            f"labelled {given!r}, but an independent pass predicted {predicted!r}")


def build(config: Any, base_dir: Path) -> LabelGate:
    """quality.GATES entry for `gate: label`."""
    return LabelGate(labels=config.labels, label_field=config.label_field, fields=config.fields, task=config.task,
                     action=config.action, model=config.model, max_tokens=config.max_tokens)
