"""Hard examples for a classifier: `technique: adversarial`.

Each slot takes an intended label and a difficulty kind (each balanced over its list) and asks
the model for one text of that label that is hard in that way (sarcastic praise that is really a
complaint, a polite complaint, a request hidden in a statement, ...). Then, as gates the engine
runs on every candidate:

- `verify` (on by default): an independent labelling pass that does not see the intended label
  must predict it (quality/label.py; `label_mismatch` otherwise): a hard example must still
  have a right answer;
- `classifier` (optional): the classifier under attack, any OpenAI-compatible endpoint asked for
  one label, labels the text; lineage records its prediction and `fooled` (it got it wrong while
  the verification agreed). With `keep: fooled`, the others are rejected as `not_fooled`.

Records: `{text, label, kind}`. `adversarial_report(records)` gives, per kind, how many were
made and how many fooled the classifier.

The label set here is deliberately minimal (a list, a mapping label -> description, or a file of
either); it is to be merged with the classification technique's label-set loader.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..config.redteam import AdversarialTechnique
from ..llm.jsontext import object_schema
from ..sources.labels import load_label_set
from ..llm.types import GenerationRequest
from ..records import Record, Rejection
from ..quality._llm import LLMGateMixin
from ..quality.base import GateContext, StatelessGate
from ..quality.label import LabelGate
from ._grounded import sampled
from .base import GenContext, Generator, parse_object

KIND_HINTS = {
    "ambiguity": "the intent is unclear and the text could be read several ways, though one reading is the "
                 "most likely",
    "sentiment_intent_mismatch": "the tone and the intent disagree: sarcastic praise that is a complaint, or a "
                                 "polite, friendly message that is really a complaint",
    "negation": "negations and double negations hide the intent ('not that I don't want to cancel')",
    "mixed_intents": "it mentions several intents, but one is the real request",
    "indirect_request": "the request is never stated directly; it is implied by a story or a remark",
    "typos_slang": "it is full of typos, abbreviations and slang",
    "code_switching": "it switches between English and another language mid-sentence",
}
SHOT = ("Oh great, a THIRD week waiting for my parcel. Truly world-class service, well done.",
        "sentiment_intent_mismatch", "shipping delay complaint")


def load_labels(value: list[str] | dict[str, str] | str, base_dir: Path) -> dict[str, str]:
    """label -> description, from a label set as the classification technique reads it
    (`sources.labels.load_label_set`: a YAML/JSON file, a list, or a mapping label: description);
    here a bare name in a list is allowed too, and describes itself."""
    if isinstance(value, list):
        value = [{"name": str(x), "description": str(x).replace("_", " ")} if not isinstance(x, dict) else x
                 for x in value]
    origin = None if isinstance(value, str) else "generate.labels"
    labels = load_label_set(value, base_dir, origin=origin)
    return {lab.name: lab.description for lab in labels.labels}


class ClassifierProbe(LLMGateMixin, StatelessGate):
    """The classifier under attack labels each candidate; lineage gets its prediction and `fooled`."""

    name = "classifier"
    stage = "label"

    def __init__(self, labels: list[str], task: str, text_field: str, model: Any, keep: str) -> None:
        self.labeller = LabelGate(labels=labels, fields=[text_field], task=task)
        self.own_model = model
        self.keep = keep


    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        res = await self.call(ctx, self.labeller.request(rec, ctx))
        obj = res.parsed_object
        predicted = obj.get("label") if obj else None
        if predicted is None:
            return Rejection.of(rec, "label", "classifier_error",
                                res.error or f"the classifier gave no label: {res.text[:120]!r}")
        verified = rec.meta.get("scores", {}).get("label_agrees", True)
        fooled = predicted != rec.data["label"] and verified
        out = rec.with_meta(classifier={"predicted": predicted, "fooled": fooled})
        if self.keep == "fooled" and not fooled:
            return Rejection.of(out, "label", "not_fooled", f"the classifier got it right ({predicted!r})")
        return out


class AdversarialGenerator(Generator):
    technique = "adversarial"

    def __init__(self, config: AdversarialTechnique, base_dir: Path) -> None:
        from ..prompts import load as load_prompt

        self.config = config
        self.labels = load_labels(config.labels, base_dir)
        self.system = load_prompt("adversarial_system")
        self.user = load_prompt("adversarial_user")

    def describe(self) -> dict[str, Any]:
        return {"technique": self.technique, "templates": {p.name: p.hash for p in (self.system, self.user)},
                "labels": list(self.labels), "kinds": self.config.kinds, "verify": self.config.verify,
                "classifier": None if self.config.classifier is None else
                f"{self.config.classifier.base_url}#{self.config.classifier.model}"}

    def gates(self) -> list[Any]:
        out: list[Any] = []
        cfg = self.config
        if cfg.verify:
            out.append(LabelGate(labels=list(self.labels), fields=[cfg.text_field], task=cfg.task))
        if cfg.classifier is not None:
            from ..config.models import OpenAIModel

            c = cfg.classifier
            model = OpenAIModel(backend="openai", base_url=c.base_url, model=c.model, api_key_env=c.api_key_env)
            out.append(ClassifierProbe(list(self.labels), c.task or cfg.task, cfg.text_field, model, c.keep))
        return out

    def request(self, label: str, kind: str, seed: int) -> GenerationRequest:
        def ask(lab: str, k: str) -> str:
            return self.user.render(label=lab, description=self.labels.get(lab, ""), kind=k, hint=KIND_HINTS[k])

        shot_label = SHOT[2]
        messages = ({"role": "system", "content": self.system.render(task=self.config.task)},
                    {"role": "user", "content": ask(shot_label, SHOT[1])},
                    {"role": "assistant", "content": json.dumps({"text": SHOT[0]})},
                    {"role": "user", "content": ask(label, kind)})
        schema = object_schema({"text": {"type": "string", "minLength": 10, "maxLength": 400}})
        return GenerationRequest(messages=messages, json_schema=schema, seed=seed, **sampled(self.config.sampling))

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        label = ctx.balanced(slot, "label", list(self.labels))
        kind = ctx.balanced(slot, "kind", cfg.kinds)
        seed = ctx.request_seed(slot)
        meta = {"technique": self.technique, "template": self.system.name,
                "template_hash": self.system.hash + self.user.hash, "kind": kind, "seed": seed, "slot": slot}
        (res,) = await ctx.llm.generate([self.request(label, kind, seed)])
        meta["model"] = res.model
        value, rejection = parse_object(res, meta)
        if rejection is not None:
            return [rejection]
        text = " ".join(str(value.get("text", "")).split())
        if len(text.split()) < 4:
            return [Rejection(stage="validate", reason="too_short", detail=f"{text!r}", raw=res.text, meta=meta)]
        if text == SHOT[0]:
            return [Rejection(stage="validate", reason="copied_example", detail="the example, copied",
                              raw=res.text, meta=meta)]
        return [Record(data={cfg.text_field: text, "label": label, "kind": kind}, meta=meta)]


def adversarial_report(records: Iterable[Record]) -> dict[str, dict[str, int]]:
    """Per kind: made, verified (the independent pass agreed) and fooled (the classifier got it wrong)."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"made": 0, "verified": 0, "probed": 0, "fooled": 0})
    for r in records:
        row = out[r.data.get("kind", "?")]
        row["made"] += 1
        row["verified"] += int(bool(r.meta.get("scores", {}).get("label_agrees")))
        if "classifier" in r.meta:
            row["probed"] += 1
            row["fooled"] += int(bool(r.meta["classifier"]["fooled"]))
    return dict(out)


def build(config: AdversarialTechnique, base_dir: Path) -> AdversarialGenerator:
    return AdversarialGenerator(config, base_dir)
