"""Label verification for labelled text: an independent pass predicts the label from the text
alone (the label set's names and descriptions, never the intended label).

A different prompt than the writer's, at temperature 0, and optionally a different model of
the pool (`verify.model`). Agreeing records get `meta.scores.label_agrees = True`; a
disagreement is rejected (`label_mismatch`) or, with `action: flag`, kept with
`label_agrees = False` and `meta.label_flagged`, or with `action: relabel`, kept with the predicted
label (`meta.relabelled_from`: the intended one). Multi-label: the predicted set must equal
the given one.
"""
from __future__ import annotations

import json
import random
from typing import Any

from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from ..sources.labels import LabelSet
from ._llm import LLMGateMixin
from .base import GateContext, StatelessGate
from .text import field_value


class VerifyGate(LLMGateMixin, StatelessGate):
    name = "verify"
    stage = "label"

    def __init__(self, label_set: LabelSet, *, text_field: str = "text", label_field: str = "label",
                 task: str | None = None, action: str = "reject", model: Any = None, max_tokens: int = 48,
                 multi_label: bool | None = None, shots: bool = False) -> None:
        self.label_set = label_set
        self.text_field, self.label_field = text_field, label_field
        self.task = task or label_set.task
        self.multi_label = label_set.multi_label if multi_label is None else multi_label
        self.action = action
        self.own_model = model
        self.max_tokens = max_tokens
        self.shots = shots
        self.system = load_prompt("verify_system")
        self.user = load_prompt("verify_user")


    def request(self, rec: Record, ctx: GateContext) -> GenerationRequest:
        # a per-record label order: a model's bias for the first option must not become a label bias
        order = list(self.label_set.labels)
        random.Random(self.seed_for(rec, ctx, "verify-order")).shuffle(order)
        names = [lab.name for lab in order]
        if self.multi_label:
            prop = {"labels": {"type": "array", "items": {"type": "string", "enum": names}, "minItems": 1,
                               "maxItems": len(names), "uniqueItems": True}}
        else:
            prop = {"label": {"type": "string", "enum": names}}
        schema = object_schema(prop)
        messages = [{"role": "system", "content": self.system.render(task=self.task, labels=order,
                                                                     multi_label=self.multi_label)}]
        for lab in order if self.shots else ():  # one worked example per label that has one
            if lab.examples:
                answer = {"labels": [lab.name]} if self.multi_label else {"label": lab.name}
                messages += [{"role": "user", "content": self.user.render(text=lab.examples[-1])},
                             {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)}]
        messages.append({"role": "user", "content": self.user.render(text=rec.data.get(self.text_field, ""))})
        return GenerationRequest(messages=tuple(messages), json_schema=schema, max_tokens=self.max_tokens,
                                 temperature=0.0, seed=self.seed_for(rec, ctx, "verify"), purpose="verify")

    def _given(self, value: Any) -> list[str] | None:
        values = value if isinstance(value, list) else [value]
        names = [self.label_set.canonical(v) for v in values]
        return None if not names or None in names else sorted(set(names))  # type: ignore[arg-type]

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        given = self._given(field_value(rec.data, self.label_field, "gate verify: label_field"))
        if given is None:
            return Rejection.of(rec, "label", "label_unknown",
                                f"{self.label_field}={rec.data.get(self.label_field)!r} is not in the label set")
        res = await self.call(ctx, self.request(rec, ctx))
        obj = res.parsed_object or {}
        raw = obj.get("labels") if self.multi_label else [obj.get("label")]
        predicted = self._given(raw) if isinstance(raw, list) and raw and raw != [None] else None
        if predicted is None:
            return Rejection.of(rec, "label", "label_error",
                                res.error or f"the checker gave no valid label: {res.text[:120]!r}")
        agrees = predicted == given
        shown = predicted if self.multi_label else predicted[0]
        out = rec.with_scores(label_agrees=agrees, label_predicted=shown)
        if agrees:
            return out
        if self.action == "flag":
            return out.with_meta(label_flagged=True)
        if self.action == "relabel" and not self.multi_label:
            from dataclasses import replace

            out = out.with_meta(relabelled_from=given[0], target_label=shown)
            return replace(out, data={**out.data, self.label_field: shown})
        return Rejection.of(out, "label", "label_mismatch",
                            f"written as {rec.data.get(self.label_field)!r}, an independent pass predicted {shown!r}")
