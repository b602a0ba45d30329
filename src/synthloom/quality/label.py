"""Label verification: an independent pass predicts a record's label without seeing it.

One gate, met two ways: `gate: label` in a recipe (and the adversarial technique) gives the label
names only; the classification and augment techniques give their label set, whose labels have
descriptions and examples. What the checker is shown follows from that: the names alone
(prompts `label_system`/`label_user`, gate name `label`), or each label with its description and
optionally one worked example per label (`verify_system`/`verify_user`, gate name `verify`, and
several labels per text when the set is multi-label). The call is at temperature 0, the labels in a
per-record order (a model's bias for the first option must not become a label bias), optionally
on another model of the pool (`model:`).

Agreeing records get `meta.scores.label_agrees = True`; a disagreement is rejected
(`label_mismatch`), or with `action: flag` kept with `label_agrees = False` and
`meta.label_flagged`, or with `action: relabel` kept with the predicted label
(`meta.relabelled_from`: the intended one). Multi-label: the predicted set must equal the given
one. Other reasons: `label_missing`, `label_unknown` (the record's label is not one of the
labels), `label_error` (the checker gave no valid label).
"""
from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from ..sources.labels import LabelSet
from ._llm import LLMGateMixin, show
from .base import GateContext, StatelessGate
from .text import field_value


def _norm(label: Any) -> str:
    return " ".join(str(label).strip().lower().split())


class LabelGate(LLMGateMixin, StatelessGate):
    """`labels`: the names (`gate: label`) or a technique's `LabelSet`. `fields`: what the checker reads
    of a record named by label names (default: every field but the label); `text_field`: the text it
    reads of a record of a label set."""

    stage = "label"

    def __init__(self, labels: LabelSet | Sequence[str], *, label_field: str = "label",
                 fields: list[str] | None = None, text_field: str = "text", task: str | None = None,
                 action: str = "reject", model: Any = None, max_tokens: int = 48,
                 multi_label: bool | None = None, shots: bool = False) -> None:
        self.label_set = labels if isinstance(labels, LabelSet) else None
        described = self.label_set is not None
        self.name = "verify" if described else "label"
        self.labels = list(labels.names) if isinstance(labels, LabelSet) else list(labels)
        self.label_field, self.fields, self.text_field = label_field, fields, text_field
        self.task = task or (self.label_set.task if self.label_set is not None else None)
        self.multi_label = bool(self.label_set.multi_label if multi_label is None and self.label_set is not None
                                else multi_label)
        self.action = action
        self.own_model = model
        self.max_tokens = max_tokens
        self.shots = shots
        self.system = load_prompt(f"{self.name}_system")
        self.user = load_prompt(f"{self.name}_user")
        self._known = {_norm(x): x for x in self.labels}
        self.agreed = 0
        self.disagreed = 0

    @property
    def agreement_rate(self) -> float | None:
        n = self.agreed + self.disagreed
        return self.agreed / n if n else None

    def _canonical(self, value: Any) -> str | None:
        if self.label_set is not None:
            return self.label_set.canonical(value)
        return self._known.get(_norm(value))

    def _names(self, value: Any) -> list[str] | None:
        """The label names `value` means (sorted, one unless multi-label), or None when one is not a label."""
        if isinstance(value, list) and self.label_set is None:
            return None
        values = value if isinstance(value, list) else [value]
        names = [self._canonical(v) for v in values]
        return None if not names or None in names else sorted(set(names))  # type: ignore[arg-type]

    def request(self, rec: Record, ctx: GateContext) -> GenerationRequest:
        order = list(self.label_set.labels) if self.label_set is not None else list(self.labels)
        random.Random(self.seed_for(rec, ctx, f"{self.name}-order")).shuffle(order)
        names = [lab.name for lab in order] if self.label_set is not None else order
        if self.multi_label:
            schema = object_schema({"labels": {"type": "array", "items": {"type": "string", "enum": names},
                                               "minItems": 1, "maxItems": len(names), "uniqueItems": True}})
        else:
            schema = object_schema({"label": {"type": "string", "enum": names}})
        if self.label_set is None:
            messages = [{"role": "system", "content": self.system.render(task=self.task, labels=order)}]
            text = show(rec.data, self.fields, exclude=(self.label_field,))
        else:
            messages = [{"role": "system", "content": self.system.render(task=self.task, labels=order,
                                                                         multi_label=self.multi_label)}]
            for lab in order if self.shots else ():  # one worked example per label that has one
                if lab.examples:
                    answer = {"labels": [lab.name]} if self.multi_label else {"label": lab.name}
                    messages += [{"role": "user", "content": self.user.render(text=lab.examples[-1])},
                                 {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)}]
            text = rec.data.get(self.text_field, "")
        messages.append({"role": "user", "content": self.user.render(text=text)})
        return GenerationRequest(messages=tuple(messages), json_schema=schema, max_tokens=self.max_tokens,
                                 temperature=0.0, seed=self.seed_for(rec, ctx, self.name), purpose=self.name)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        value = field_value(rec.data, self.label_field, f"gate {self.name}: label_field")
        if value is None:
            return Rejection.of(rec, "label", "label_missing", f"the record has no field {self.label_field!r}")
        given = self._names(value)
        if given is None:
            return Rejection.of(rec, "label", "label_unknown",
                                f"{self.label_field}={value!r} is not one of {', '.join(map(repr, self.labels))}")
        res = await self.call(ctx, self.request(rec, ctx))
        obj = res.parsed_object or {}
        raw = obj.get("labels") if self.multi_label else [obj.get("label")]
        predicted = self._names(raw if self.label_set is not None else raw[0]) \
            if isinstance(raw, list) and raw and raw != [None] else None
        if predicted is None:
            return Rejection.of(rec, "label", "label_error",
                                res.error or f"the checker gave no valid label: {res.text[:120]!r}")
        agrees = predicted == given
        shown = predicted if self.multi_label else predicted[0]
        out = rec.with_scores(label_agrees=agrees, label_predicted=shown)
        if agrees:
            self.agreed += 1
            return out
        self.disagreed += 1
        if self.action == "flag":
            return out.with_meta(label_flagged=True)
        if self.action == "relabel" and not self.multi_label:
            out = out.with_meta(relabelled_from=given[0], target_label=shown)
            return replace(out, data={**out.data, self.label_field: shown})
        return Rejection.of(out, "label", "label_mismatch",
                            f"labelled {value!r}, but an independent pass predicted {shown!r}")


def build(config: Any, base_dir: Path) -> LabelGate:
    """quality.GATES entry for `gate: label`."""
    return LabelGate(config.labels, label_field=config.label_field, fields=config.fields, task=config.task,
                     action=config.action, model=config.model, max_tokens=config.max_tokens)
