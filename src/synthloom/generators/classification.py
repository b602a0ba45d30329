"""Labelled text for a classifier: `technique: classification`.

Each slot picks the label first (the one furthest below its target count, so a rare label
gets exactly its share), then writes a text *for* that label: the label, its description,
its examples and counter-examples are in the prompt before a word is written, and only
the text is decoded. A label with fewer than three examples of its own is shown worked
examples of other domains (prompts/classify_examples.json: a person writing about their own
case to a shop, a bank, an airline...), each input naming its task, label and description as
the final one does: a base model sees the voice and that a description is paraphrased. Variety comes from attribute axes (length, register, noise
by default), hard cases from named label pairs (an A text that borrows B's vocabulary)
and from an out-of-scope label. A text that copies a label's description or example is
rejected (`copied_description`, `copied_example`: most of its word 4-grams from one, or most of an
example's words in the example's order, a near copy with a word or two changed): they steer the text, they
are not it; so is a text that repeats its instructions (`copied_prompt`: an attribute axis, "(length: one
sentence)", or the request line's own words, "message with label", "make it casual"), and
with `max_sentences`, one of more sentences (`too_long`; off by default).
With `best_of: k` a slot writes k candidates (k seeds, one call), runs these checks on each and keeps the one
with the highest label PMI (quality/text_fit.py); the others are `best_of:outranked` (opt-in: see keep_best).
The gates this technique adds: a quota (a label never exceeds its target) and label
verification (an independent pass, see quality/label.py); the engine adds the default
acceptance checks (quality/checks: readable, complete, and the nearest-label check).
"""
from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config.classify import ClassificationTechnique
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.reference import NgramIndex
from ..records import Record, Rejection
from ..sources.labels import LabelSet, load_label_set, target_counts
from .base import GenContext, Generator, parse_object
from .classify_text import (describes_writer, description_openings, heading_prefix, human, instruction_phrases,
                            near_copy, repeated_phrase, repeats_itself, sentences)

__all__ = ["ClassificationGenerator", "build", "check_text", "heading_prefix", "human", "instruction_phrases",
           "near_copy", "repeated_phrase", "sentences", "text_schema"]

MAX_SHOTS = 3
MULTI_SECOND_SHARE = 0.35  # multi-label: share of texts that carry a second label
EXAMPLE_OVERLAP = 0.5
# a text that holds this share of an example's words, in the example's order, is a near copy of it ("Can I book
# a tuning for the piano in the church hall, any Saturday in May?" with one or two words changed): of 170 such
# near copies of the label sets' examples, 169 reach it; of 621 hand-written real messages none passes 0.50
EXAMPLE_IN_ORDER = 0.7
# worked examples of other domains (a shop, a bank, an airline...): a label without examples of its own is
# shown these, so a base model sees the shape of the answer it should write
BORROWED_SHOTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "prompts" / "classify_examples.json").read_text(encoding="utf-8"))  # a text that shares more of its word 4-grams with a label-set example is a copy of it


def text_schema(max_chars: int) -> dict[str, Any]:
    return object_schema({"text": {"type": "string", "minLength": 8, "maxLength": max_chars}})


def check_text(value: dict[str, Any], max_chars: int, min_words: int, meta: dict[str, Any],
               raw: str) -> tuple[str | None, Rejection | None]:
    """The written text, or why it is not usable (cut at the length cap, too short)."""
    text = " ".join(str(value.get("text", "")).split())
    if "{" not in text:  # a small model sometimes closes the JSON inside the string: `...it?}"}`
        text = text.rstrip("}").rstrip()
    if len(str(value.get("text", ""))) >= max_chars:
        return None, Rejection(stage="filter", reason="cut_at_max_chars", data={"text": text}, raw=raw, meta=meta,
                               detail=f"reached max_chars={max_chars}, so it was cut off: {text[-60:]!r}")
    if len(text.split()) < min_words:
        return None, Rejection(stage="filter", reason="too_short", data={"text": text}, raw=raw, meta=meta,
                               detail=f"{len(text.split())} words, fewer than min_words={min_words}: {text!r}")
    return text, None


class QuotaGate:
    """A label never gets more accepted records than its target (several slots in flight may aim at it)."""

    name = "quota"
    stage = "diversity"
    stateful = True

    def __init__(self, generator: Any) -> None:
        self.generator = generator  # its targets are known once the engine says the count
        self.counts: Counter[str] = Counter()

    def prime(self, accepted: Any) -> None:
        self.counts = Counter(r.meta.get("target_label") for r in accepted)

    async def check(self, rec: Record, ctx: Any) -> Record | Rejection:
        label, targets = rec.meta.get("target_label"), self.generator.targets
        if label in targets and self.counts[label] >= targets[label]:
            return Rejection.of(rec, self.stage, "label_quota_full",
                                f"{label!r} already has its {targets[label]} records")
        return rec

    def commit(self, rec: Record) -> None:
        self.counts[rec.meta.get("target_label")] += 1


class ClassificationGenerator(Generator):
    technique = "classification"

    def __init__(self, config: ClassificationTechnique, base_dir: Path) -> None:
        self.config = config
        self.base_dir = str(Path(base_dir).resolve())  # the report finds the recipe's relative files from here
        self.label_set: LabelSet = load_label_set(config.labels, base_dir, origin=None if isinstance(config.labels, str)
                                                  else "generate.labels")
        names = self.label_set.names
        self.task = config.task or self.label_set.task
        self.multi_label = self.label_set.multi_label if config.multi_label is None else config.multi_label
        for pair in config.hard_cases.boundary:
            for name in pair:
                if name not in names:
                    from ..errors import RecipeError

                    raise RecipeError(f"generate.hard_cases.boundary: {name!r} is not a label ({', '.join(names)})")
        oos = config.hard_cases.out_of_scope
        if oos is not None and oos not in names:
            from ..errors import RecipeError

            raise RecipeError(f"generate.hard_cases.out_of_scope: {oos!r} is not a label ({', '.join(names)}); "
                              "add it to the label set with a description")
        self.partners: dict[str, list[str]] = {}
        for a, b in config.hard_cases.boundary:
            self.partners.setdefault(a, []).append(b)
        if isinstance(config.distribution, dict):  # unknown labels; the sum is checked against count by the recipe
            target_counts(names, sum(config.distribution.values()), config.distribution, where="generate.distribution")
        self.targets: dict[str, int] = {}  # set from the run's count (GenContext.target) at the first slot
        self.system_prompt = load_prompt("classify_system")
        self.user_prompt = load_prompt("classify_user")
        from .variety import Variety

        self.variety = Variety(config.samplers, base_dir, self.task)  # shown as the record's context
        self._seen = 0
        self._examples = NgramIndex([*(ex for lab in self.label_set.labels for ex in lab.examples),
                                     *(b["text"] for b in BORROWED_SHOTS)])
        self._descriptions = NgramIndex(lab.description for lab in self.label_set.labels)
        self._repeats_checked = not any(repeats_itself(ex) for lab in self.label_set.labels for ex in lab.examples)
        self._openings = description_openings([lab.description for lab in self.label_set.labels],
                                              self._examples.texts)
        # the instructions' own words (the system prompt with no label, task or example in it)
        self._instructions = NgramIndex([self.system_prompt.render(task=None, labels=[], others=[], counter=[])])
        self._instruction_phrases = instruction_phrases(self.user_prompt, config.axes())
        self._have: Counter[str] = Counter()
        self._inflight: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self.ranker: Any = None  # best_of: the label PMI scorer (quality/text_fit.LabelPmiGate), opened at first use
        self.document = load_prompt("classify_document")
        self._form: str | None = None  # "document" or "chat", resolved from the writer at the first slot

    def prompt_form(self, llm: Any) -> str:
        """`prompt_form` as the run uses it: `auto` is the document form when the writer is a base model
        (llm/render.style_of) and no attribute axes or samplers are set (a document has no words for them)."""
        if self._form is None:
            from ..llm.render import resolve_form

            self._form = resolve_form(self.config.prompt_form, llm,
                                      plain=self.config.attributes is None and not self.config.samplers)
        return self._form

    def set_count(self, count: int) -> None:
        weights = {lab.name: lab.weight for lab in self.label_set.labels if lab.weight}
        self.targets = target_counts(self.label_set.names, count, self.config.distribution, weights,
                                     where="generate.distribution")

    def describe(self) -> dict[str, Any]:
        return {"technique": self.technique,
                "templates": {p.name: p.hash for p in (self.system_prompt, self.user_prompt, self.document)},
                "prompt_form": self._form or self.config.prompt_form,
                "labels": self.label_set.names, "targets": self.targets, "multi_label": self.multi_label,
                "attributes": self.config.axes(), "text_field": self.config.text_field,
                "label_field": self.config.label_field, "base_dir": self.base_dir,
                "weights": {lab.name: lab.weight for lab in self.label_set.labels if lab.weight},
                **({"variety": self.variety.describe()} if self.variety else {})}

    def gates(self) -> list[Any]:
        from ..quality.label import LabelGate

        out: list[Any] = []
        v = self.config.verify
        if v.enabled:
            out.append(LabelGate(self.label_set, text_field=self.config.text_field,
                                 label_field=self.config.label_field, task=self.task, action=v.action,
                                 model=v.model, max_tokens=v.max_tokens, multi_label=self.multi_label))
        out.append(QuotaGate(self))
        return out

    def pick_label(self, slot: int, ctx: GenContext) -> str:
        """Among labels still below their target (accepted + in flight), the one with the fewest attempts
        for its target: every label gets tries in proportion to its share, and a label the checker keeps
        rejecting cannot starve the others. Ties in a seeded order."""
        if not self._seen and not self._attempts:  # a resumed run starts from what was accepted
            self._attempts.update(r.meta.get("target_label") for r in ctx.accepted)
        for rec in ctx.accepted[self._seen:]:
            self._have[rec.meta.get("target_label")] += 1
        self._seen = len(ctx.accepted)
        names = self.label_set.names
        if not self.targets:
            return ctx.balanced(slot, "label", names)
        order = list(names)
        ctx.rng(slot, "label").shuffle(order)
        open_ = [n for n in order if self.targets[n] - self._have[n] - self._inflight[n] > 0]
        pool = open_ or [n for n in order if self.targets[n] - self._have[n] > 0] or order
        label = min(pool, key=lambda n: self._attempts[n] / max(self.targets[n], 1))
        self._attempts[label] += 1
        return label

    def request_for(self, slot: int, ctx: GenContext, label: str) -> tuple[GenerationRequest, dict[str, Any]]:
        cfg = self.config
        rng = ctx.rng(slot)
        lab = self.label_set.get(label)
        labels = [label]
        if self.multi_label and rng.random() < MULTI_SECOND_SHARE:
            others = [n for n in self.label_set.names if n not in (label, cfg.hard_cases.out_of_scope)]
            if others:
                labels.append(rng.choice(others))
        attributes = {axis: ctx.balanced(slot, axis, values) for axis, values in cfg.axes().items()}
        drawn = self.variety.draw(slot, ctx) if self.variety else {}
        confuser = None
        if label in self.partners and rng.random() < cfg.hard_cases.boundary_share:
            confuser = self.label_set.get(rng.choice(self.partners[label]))
        others = []
        if label == cfg.hard_cases.out_of_scope:
            others = [x for x in self.label_set.labels if x.name != label]
        s = cfg.sampling
        seed = ctx.request_seed(slot)
        meta: dict[str, Any] = {
            "technique": self.technique, "template": self.system_prompt.name,
            "template_hash": self.system_prompt.hash + self.user_prompt.hash,
            "target_label": label, "labels": labels, "attributes": {**attributes, **drawn}, "seed": seed, "slot": slot,
            "hard_case": "boundary" if confuser else "out_of_scope" if others else None, "prompt_form": "chat",
        }
        if confuser:
            meta["confuser"] = confuser.name
        if self.prompt_form(ctx.llm) == "document" and len(labels) == 1 and confuser is None:
            # one label, no hard case to explain: the document form (classify_document.py); a second label or a
            # boundary case needs the words of the chat form
            from .classify_document import document_prompt, line_request

            own = rng.sample(lab.examples, k=min(MAX_SHOTS, len(lab.examples)))
            prompt, shown = document_prompt(self.document, self.task, lab,
                                            [x for x in self.label_set.labels if x.name != label], own,
                                            BORROWED_SHOTS, rng)
            meta.update(template=self.document.name, template_hash=self.document.hash, prompt_form="document",
                        attributes={})
            return line_request(prompt, shown, s, seed), meta
        system = self.system_prompt.render(task=self.task, labels=[_shown(self.label_set.get(n)) for n in labels],
                                           others=[_shown(x) for x in others], counter=lab.counter_examples)
        messages: list[dict[str, str]] = [{"role": "system", "content": system}]
        own = rng.sample(lab.examples, k=min(MAX_SHOTS, len(lab.examples)))
        # a label with fewer examples than MAX_SHOTS borrows worked examples of other domains: they show the
        # voice (a person writing about their own case) and that a description is paraphrased, never copied.
        # (Showing a text accepted earlier for the label instead was tried on the library set: the 270M writer
        # copied it in 20 of 77 candidates and paraphrased it in most others, junk included. Showing the
        # user's examples of the label set's other labels instead was tried on a driving-school set: as many
        # texts read as good, and the writer reused the examples' phrases.)
        borrowed = rng.sample(BORROWED_SHOTS, k=min(MAX_SHOTS - len(own), len(BORROWED_SHOTS)))
        shots = [(b["task"], {"name": b["label"], "description": b["description"]}, b["attributes"], b["text"])
                 for b in borrowed]
        shots += [(self.task, _shown(lab), {}, ex) for ex in own]
        for task, shown, attrs, text in shots:
            messages.append({"role": "user", "content": self.user_prompt.render(
                task=task, labels=[shown], attributes=attrs, confuser=None)})
            messages.append({"role": "assistant", "content": _json({"text": text})})
        messages.append({"role": "user", "content": self.user_prompt.render(
            task=self.task, labels=[_shown(self.label_set.get(n)) for n in labels], attributes=attributes,
            confuser=_shown(confuser) if confuser else None, context=self.variety.shown(drawn))})
        req = GenerationRequest(messages=tuple(messages), json_schema=text_schema(cfg.max_chars),
                                max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p, seed=seed)
        return req, meta

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        if not self.targets and ctx.target:
            self.set_count(ctx.target)
        await self.variety.prepare(ctx)  # personas and topic trees: written once, before the first record
        label = self.pick_label(slot, ctx)
        k = self.config.best_of
        self._inflight[label] += 1
        try:
            req, meta = self.request_for(slot, ctx, label)
            # best_of: the same prompt under k seeds, in one call, so a batching backend writes them together
            reqs = [req, *(replace(req, seed=ctx.request_seed(slot, j)) for j in range(1, k))]
            results = await ctx.llm.generate(reqs)
        finally:
            self._inflight[label] -= 1
        items = [self.candidate(result, {**meta, "seed": r.seed, "model": result.model,
                                         **({"best_of_candidate": j} if k > 1 else {})})
                 for j, (r, result) in enumerate(zip(reqs, results))]
        return items if k == 1 else await self.keep_best(items, label)

    async def keep_best(self, items: list[Record | Rejection], label: str) -> list[Record | Rejection]:
        """Of a slot's candidates that passed the checks, the one its label's description makes likeliest against
        the nearest other label's (label PMI, quality/text_fit.py): no threshold, only a ranking. The others are
        rejected as `best_of:outranked`, naming the kept one's score."""
        survivors = [x for x in items if isinstance(x, Record)]
        out: list[Record | Rejection] = [x for x in items if isinstance(x, Rejection)]
        if not survivors:
            return out
        if self.ranker is None:
            from ..quality.text_fit import LabelPmiGate

            self.ranker = LabelPmiGate(self.label_set, task=self.task)
        field = self.config.text_field
        scored = await asyncio.gather(*(self.ranker.score(r.data[field], label) for r in survivors))
        pmis = [s for s, _other in scored]
        order = sorted(range(len(survivors)), key=lambda i: -pmis[i] if pmis[i] == pmis[i] else float("inf"))
        ranked = [survivors[i].with_scores(label_pmi=_rounded(pmis[i]), best_of_rank=rank)
                  for rank, i in enumerate(order, 1)]
        best, best_pmi, best_other = ranked[0], pmis[order[0]], scored[order[0]][1]
        for rec, i in zip(ranked[1:], order[1:]):
            out.append(Rejection.of(rec, "filter", "best_of:outranked",
                                    f"label PMI {pmis[i]:+.3f} against {scored[i][1]!r}, ranked below the kept "
                                    f"candidate's {best_pmi:+.3f} against {best_other!r} (candidate "
                                    f"{best.meta['best_of_candidate']} of {len(items)}): {best.data[field][:80]!r}"))
        return [best, *out]

    def candidate(self, result: Any, meta: dict[str, Any]) -> Record | Rejection:
        """One written text as a record of its label, or why it is not one."""
        if meta.get("prompt_form") == "document":
            from .classify_document import read_line

            value, rejection = read_line(result, meta)
        else:
            value, rejection = parse_object(result, meta)
        if rejection is not None:
            return rejection
        text, rejection = check_text(value, self.config.max_chars, self.config.min_words, meta, result.text)
        if rejection is not None:
            return rejection
        limit = self.config.max_sentences
        if limit is not None and sentences(text) > limit:
            return Rejection(stage="filter", reason="too_long", data={"text": text}, meta=meta,
                             detail=f"{sentences(text)} sentences, more than max_sentences={limit}: {text[:100]!r}")
        again = repeats_itself(text) if self._repeats_checked else None
        if again is not None:  # "I'm on the wrong floor - I live on the wrong floor."
            return Rejection(stage="filter", reason="repeats_itself", data={"text": text}, meta=meta,
                             detail=f"the text says {again!r} twice; a message does not: {text[:100]!r}")
        heading = heading_prefix(text, self.label_set.names)
        if heading is not None:  # "price: I'm looking for ...": the document form's "## Prices: ..." heading
            return Rejection(stage="filter", reason="copied_prompt", data={"text": text}, meta=meta,
                             detail=f"the text opens with the label name {heading!r} as a heading: {text[:100]!r}")
        leaked = next((n for n in self.label_set.names if n != human(n) and n.casefold() in text.casefold()), None)
        if leaked is not None:
            return Rejection(stage="filter", reason="label_name_in_text", data={"text": text}, meta=meta,
                             detail=f"the text spells the label identifier {leaked!r}: {text[:100]!r}")
        overlap, i = self._examples.nearest(text)
        if overlap >= EXAMPLE_OVERLAP:
            return Rejection(stage="dedup", reason="copied_example", data={"text": text}, meta=meta,
                             detail=f"{overlap:.0%} of its word 4-grams repeat an example of the label set: "
                                    f"{self._examples.texts[i][:100]!r}")
        share, example = near_copy(text, self._examples.texts)
        if share >= EXAMPLE_IN_ORDER:
            return Rejection(stage="dedup", reason="copied_example", data={"text": text}, meta=meta,
                             detail=f"{share:.0%} of the words of an example reappear in its order: {example[:100]!r}")
        axis = next((a for a in self.config.axes() if f"{a.casefold()}:" in text.casefold()), None)
        if axis is not None:  # "(length: one sentence)": the writer copied its instructions into the text
            return Rejection(stage="filter", reason="copied_prompt", data={"text": text}, meta=meta,
                             detail=f"the text repeats the instruction's {axis!r}: {text[:100]!r}")
        overlap, _ = self._instructions.nearest(text)
        if overlap > 0:  # a word 4-gram of the instructions themselves: "never the label's name, ..."
            return Rejection(stage="filter", reason="copied_prompt", data={"text": text}, meta=meta,
                             detail=f"the text repeats words of the writer's instructions: {text[:100]!r}")
        phrase = repeated_phrase(text, self._instruction_phrases)
        if phrase is not None:  # "Send me a message with label complaint": the request line's own words
            return Rejection(stage="filter", reason="copied_prompt", data={"text": text}, meta=meta,
                             detail=f"the text repeats the instruction's words {' '.join(phrase)!r}: {text[:100]!r}")
        overlap, i = self._descriptions.nearest(text)
        if overlap >= EXAMPLE_OVERLAP:  # the description steers the text; it is not the text
            return Rejection(stage="dedup", reason="copied_description", data={"text": text}, meta=meta,
                             detail=f"{overlap:.0%} of its word 4-grams repeat the description of "
                                    f"{self.label_set.labels[i].name!r}: {self._descriptions.texts[i][:100]!r}")
        opening = describes_writer(text, self._openings)
        if opening is not None:  # "The student has enrolled ...": the description's voice, not the person's
            return Rejection(stage="filter", reason="copied_description", data={"text": text}, meta=meta,
                             detail=f"the text opens like the descriptions ({opening!r}): it describes the "
                                    f"person instead of being their message: {text[:100]!r}")
        value_label: Any = sorted(meta["labels"]) if self.multi_label else meta["target_label"]
        return Record(data={self.config.text_field: text, self.config.label_field: value_label}, meta=meta)


def _rounded(x: float) -> float | None:
    return round(x, 3) if x == x else None


def _shown(label: Any) -> dict[str, str]:
    return {"name": human(label.name), "description": label.description}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def build(config: ClassificationTechnique, base_dir: Path) -> ClassificationGenerator:
    return ClassificationGenerator(config, base_dir)
