"""More of a real labelled dataset: `technique: augment`.

Each slot takes one real row and one operation (paraphrase, register, length, entities,
typos, translate there and back) and writes a variation that keeps the row's label. The
label is never decoded: it is the source row's, and an independent pass checks the new
text still carries it (quality/label.py). A variation that shares more than
`max_overlap` of its word 4-grams with its source or any other real row is a near-copy
and is rejected, so no real record leaks into the output. Lineage names the source row
(line number and content id) and the operation.

Two prompt forms (`prompt_form`). `chat`: an instruction and a worked rewrite of one message as turns, the
answer a JSON object. `document`: the source row's label as a heading over its real rows, the source row
last, and an open "-" line: a base model continues such a list with one more message of the same kind, in
the rows' voice, where the instruction form made the bundled model answer in the shop's voice or garble
(docs/benchmarks_junk.md). The document has no words for an operation, so only paraphrase, entities and
typos (paraphrase plus keyboard noise) use it; register, length and translate keep the chat form. `auto`
picks the document when the writer is a base model (llm/render.style_of).
"""
from __future__ import annotations

import asyncio
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..config.classify import AugmentTechnique
from ..llm.types import GenerationRequest
from ..prompts import _PACKAGE_DIR
from ..prompts import load as load_prompt
from ..quality.reference import NgramIndex, ngrams, words
from ..records import Record, Rejection, content_hash
from ..sources.labels import Label, LabelSet, load_label_set, read_labelled
from .base import GenContext, Generator, parse_object
from .classification import check_text, human, text_schema
from .classify_document import read_line

# `relevant`: a variation's MiniLM cosine with its source row. The built-in demonstration's rewrites of one
# message score 0.56 (other names and numbers) to 0.90; two real messages of different intents (400
# hand-written library messages, benchmarks/data) score under 0.38 in 95 of 100 pairs
MIN_SOURCE_COSINE = 0.40
FIT_ROWS = 200  # real rows per label in the nearest-label check's label vectors
DEMO_NUMBER = "4471"  # the order number of the built-in demonstration
DOCUMENT_OPS = ("paraphrase", "entities", "typos")  # operations the document form can do (it writes a sibling)
DOCUMENT_ROWS = 6  # other real rows of the label listed above the source row
REGISTERS = ("very casual, like a quick chat message", "formal and polite", "terse, as few words as possible",
             "annoyed")
INSTRUCTIONS = {
    "paraphrase": "Say the same thing in other words: keep the meaning, change the wording and the sentence structure.",
    "register": "Rewrite the text so that it sounds {register}.",
    "shorter": "Rewrite the text much shorter, keeping what the writer wants.",
    "longer": "Rewrite the text longer, adding a plausible detail or two, keeping what the writer wants.",
    "entities": "Rewrite the text with different names, products, places, order numbers and amounts; keep what the writer wants.",
    "typos": "Say the same thing in other words, the way someone typing quickly on a phone would.",
    "to_language": "Translate the text into {language}.",
    "to_english": "Translate the text into English.",
}


@lru_cache(maxsize=1)
def _demo() -> dict[str, str]:
    return json.loads((_PACKAGE_DIR / "augment_examples.json").read_text(encoding="utf-8"))


def add_typos(text: str, rng: random.Random, rate: float = 0.08) -> str:
    """Keyboard noise: swap, drop or double a letter inside about `rate` of the words (at least one;
    only alphabetic words longer than three letters, never digits)."""
    parts = text.split(" ")
    eligible = [i for i, w in enumerate(parts) if len(w) > 3 and w.isalpha()]
    if not eligible:
        return text
    for i in rng.sample(eligible, k=max(1, round(rate * len(parts)))  if len(eligible) > 1 else 1):
        word = parts[i]
        j = rng.randrange(1, len(word) - 1)
        kind = rng.choice(("swap", "drop", "double"))
        if kind == "swap":
            word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
        elif kind == "drop":
            word = word[:j] + word[j + 1:]
        else:
            word = word[:j] + word[j] + word[j:]
        parts[i] = word
    return " ".join(parts)


class AugmentGenerator(Generator):
    technique = "augment"

    def __init__(self, config: AugmentTechnique, base_dir: Path) -> None:
        self.config = config
        self.base_dir = str(Path(base_dir).resolve())  # the report finds the recipe's relative files from here
        self.rows = read_labelled(config.data, config.text_field, config.label_field, base_dir, what="real data")
        self.path = str(Path(base_dir) / config.data) if not Path(config.data).is_absolute() else config.data
        found = list(dict.fromkeys(str(r[config.label_field]) for r in self.rows))
        if config.labels is not None:
            self.label_set = load_label_set(config.labels, base_dir,
                                            origin=None if isinstance(config.labels, str) else "generate.labels")
            unknown = [x for x in found if self.label_set.canonical(x) is None]
            if unknown:
                from ..errors import InputFileError

                raise InputFileError(f"{self.path}: label(s) {', '.join(map(repr, unknown))} are not in the label set "
                                     f"({', '.join(self.label_set.names)}); add them or fix the data")
        else:
            self.label_set = self._labels_from_data(found)
        self.index = NgramIndex(r[config.text_field] for r in self.rows)
        # 4-grams (and the order number) of the built-in demonstration: a variation may only have them from its source
        self._demo_grams = {g for k, v in _demo().items() if k != "translated" for g in ngrams(words(v))}
        self.system_prompt = load_prompt("augment_system")
        self.user_prompt = load_prompt("augment_user")
        self.document = load_prompt("augment_document")
        self.min_source_cosine: float | None = MIN_SOURCE_COSINE  # None: the `relevant` check is off
        self._embedder: Any = None
        self._lock = asyncio.Lock()

    def use_checks(self, on: Any) -> None:
        """The recipe's acceptance checks: `relevant` is this technique's cosine with the source row."""
        if "relevant" not in on:
            self.min_source_cosine = None

    def source_cosine(self, text: str, source: str) -> float | None:
        """MiniLM cosine of a variation with its source row (None without the `embed` extra)."""
        if self._embedder is None:
            try:
                from ..quality.embeddings import make_embedder

                self._embedder = make_embedder()
            except Exception:  # MissingDependencyError: the check is skipped, as quality/checks.py does
                self.min_source_cosine = None
                return None
        a, b = self._embedder.embed([text, source])
        return float(a @ b)

    def _labels_from_data(self, found: list[str]) -> LabelSet:
        from ..errors import InputFileError

        if len(found) < 2:
            raise InputFileError(f"{self.path}: only one label ({found[0]!r}) in field {self.config.label_field!r}; "
                                 "a classifier needs at least two (or name the label field with --label-field)")
        by_label: dict[str, list[str]] = {}
        for r in self.rows:
            by_label.setdefault(str(r[self.config.label_field]), []).append(r[self.config.text_field])
        return LabelSet(labels=[Label(name=x, description=f"texts labelled {x} in the real data",
                                      examples=by_label[x][:2]) for x in found], task=self.config.task)

    def fit_labels(self, per_label: int = FIT_ROWS) -> LabelSet:
        """The label set the nearest-label check reads (quality/checks.py): each label with its real rows
        (up to `per_label`) as examples. On hand-written messages the mean of a label's other real rows
        is the nearest for 0.78 of them (12 and 20 labels, leave-one-out; 0.58 with 4 rows a label), where
        the bundled model as the label checker agreed on 0.33 (docs/benchmarks_junk.md)."""
        by_label: dict[str, list[str]] = {}
        for r in self.rows:
            name = self.label_set.canonical(str(r[self.config.label_field])) or str(r[self.config.label_field])
            by_label.setdefault(name, []).append(r[self.config.text_field])
        return self.label_set.model_copy(update={"labels": [
            lab.model_copy(update={"examples": list(dict.fromkeys([*lab.examples, *by_label.get(lab.name, [])]))[:per_label]})
            for lab in self.label_set.labels]})

    def describe(self) -> dict[str, Any]:
        return {"technique": self.technique, "data": self.path, "rows": len(self.rows),
                "templates": {p.name: p.hash for p in (self.system_prompt, self.user_prompt, self.document)},
                "prompt_form": self.config.prompt_form, "operations": self.config.operations or "default",
                "labels": self.label_set.names, "targets": {},
                "text_field": self.config.text_field, "label_field": self.config.label_field, "base_dir": self.base_dir}

    def gates(self) -> list[Any]:
        from ..quality.label import LabelGate

        v = self.config.verify
        if not v.enabled:
            return []
        return [LabelGate(self.label_set, text_field=self.config.text_field, label_field=self.config.label_field,
                          task=self.config.task or self.label_set.task, action=v.action, model=v.model,
                          max_tokens=v.max_tokens)]

    def _request(self, instruction: str, label: str | None, text: str, demo: tuple[str, str] | None,
                 seed: int) -> GenerationRequest:
        system = self.system_prompt.render(task=self.config.task or self.label_set.task, instruction=instruction,
                                           label=label)
        messages: list[dict[str, str]] = [{"role": "system", "content": system}]
        if demo:
            messages += [{"role": "user", "content": self.user_prompt.render(text=demo[0])},
                         {"role": "assistant", "content": json.dumps({"text": demo[1]}, ensure_ascii=False)}]
        messages.append({"role": "user", "content": self.user_prompt.render(text=text)})
        s = self.config.sampling
        return GenerationRequest(messages=tuple(messages), json_schema=text_schema(self.config.max_chars),
                                 max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p, seed=seed)

    def operations(self, ctx: GenContext) -> list[str]:
        """The recipe's operations; when it names none, those the writer does well: for a base writer in the
        document form the three that form can do, else the five defaults."""
        if self.config.operations is not None:
            return list(self.config.operations)
        from ..config.classify import DEFAULT_OPERATIONS, DOCUMENT_OPERATIONS

        return list(DOCUMENT_OPERATIONS if self.form(DOCUMENT_OPERATIONS[0], ctx) == "document" else DEFAULT_OPERATIONS)

    def form(self, op: str, ctx: GenContext) -> str:
        """The prompt form of a slot: `document` where the recipe allows it (auto: a base model writes) and the
        operation has a document form, else `chat`."""
        from ..llm.render import resolve_form

        return "chat" if op not in DOCUMENT_OPS else resolve_form(self.config.prompt_form, ctx.llm)

    def document_request(self, row_i: int, slot: int, ctx: GenContext) -> GenerationRequest:
        """The document prompt for a source row: its label (the label set's description where it has one)
        over up to DOCUMENT_ROWS other real rows of the label and the source row last, then an open "-"
        (no trailing space: the model writes the space itself); the decoder may not write a shown row back."""
        cfg = self.config
        label = self.label_set.canonical(str(self.rows[row_i][cfg.label_field])) or str(self.rows[row_i][cfg.label_field])
        lab = self.label_set.get(label) if self.config.labels is not None else None
        heading = " ".join(str(lab.description).split()) if lab is not None and lab.description else human(label)
        same = [i for i, r in enumerate(self.rows) if i != row_i and
                (self.label_set.canonical(str(r[cfg.label_field])) or str(r[cfg.label_field])) == label]
        picked = sorted(ctx.rng(slot, "document").sample(same, k=min(DOCUMENT_ROWS, len(same))))
        shown = tuple(" ".join(str(self.rows[i][cfg.text_field]).split()) for i in [*picked, row_i])
        prompt = self.document.render(task=cfg.task or self.label_set.task, heading=heading, rows=shown)
        s = cfg.sampling
        return GenerationRequest(prompt=prompt, stop=("\n",), max_tokens=s.max_tokens, temperature=s.temperature,
                                 top_p=s.top_p, seed=ctx.request_seed(slot), avoid=tuple(" " + t for t in shown))

    def plan(self, slot: int, ctx: GenContext) -> tuple[int, str, str, tuple[str, str] | None]:
        """(row index, operation, instruction, demonstration pair) for a slot."""
        row = ctx.balanced(slot, "row", list(range(len(self.rows))))
        op = ctx.balanced(slot, "operation", self.operations(ctx))
        demo = _demo()
        rng = ctx.rng(slot, "op")
        if op == "register":
            return row, op, INSTRUCTIONS["register"].format(register=rng.choice(REGISTERS)), (demo["source"], demo["register"])
        if op == "length":
            way = rng.choice(("shorter", "longer"))
            return row, f"length:{way}", INSTRUCTIONS[way], (demo["source"], demo[way])
        if op == "translate":
            return row, op, INSTRUCTIONS["to_language"].format(language=self.config.translate_via), None
        key = "paraphrase" if op == "typos" else op
        return row, op, INSTRUCTIONS[op], (demo["source"], demo[key])

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        row_i, op, instruction, demo = self.plan(slot, ctx)
        row = self.rows[row_i]
        source, label = row[cfg.text_field], row[cfg.label_field]
        meta: dict[str, Any] = {"technique": self.technique, "template": self.system_prompt.name,
                                "template_hash": self.system_prompt.hash + self.user_prompt.hash,
                                "source_row": row_i + 1, "source_id": content_hash(row, 8), "operation": op,
                                "target_label": str(label), "attributes": {"operation": op.split(":")[0]},
                                "slot": slot, "seed": ctx.request_seed(slot)}
        german = cfg.translate_via.strip().lower() in ("german", "deutsch", "de")
        meta["prompt_form"] = self.form(op, ctx)
        if meta["prompt_form"] == "document":
            meta.update(template=self.document.name, template_hash=self.document.hash)
            (res,) = await ctx.llm.generate([self.document_request(row_i, slot, ctx)])
            meta["model"] = res.model
            value, rejection = read_line(res, meta)
        elif op == "translate":
            req = self._request(instruction, None, source, (_demo()["source"], _demo()["translated"]) if german else None,
                                ctx.request_seed(slot))
            (res,) = await ctx.llm.generate([req])
            value, rejection = parse_object(res, {**meta, "model": res.model, "step": "to_language"})
            if rejection is not None:
                return [rejection]
            meta["via_text"] = str(value.get("text", ""))
            demo_back = (_demo()["translated"], _demo()["source"]) if german else None
            req = self._request(INSTRUCTIONS["to_english"], None, meta["via_text"], demo_back, ctx.request_seed(slot, 1))
        else:
            req = self._request(instruction, human(str(label)), source, demo, ctx.request_seed(slot))
        if meta["prompt_form"] == "chat":
            (res,) = await ctx.llm.generate([req])
            meta["model"] = res.model
            value, rejection = parse_object(res, meta)
        if rejection is not None:
            return [rejection]
        text, rejection = check_text(value, cfg.max_chars, cfg.min_words, meta, res.text)
        if rejection is not None:
            return [rejection]
        borrowed = (ngrams(words(text)) & self._demo_grams) - ngrams(words(source))
        if DEMO_NUMBER in words(text) and DEMO_NUMBER not in words(source):
            borrowed.add((DEMO_NUMBER,))
        if borrowed:
            return [Rejection(stage="dedup", reason="copied_demo", data={cfg.text_field: text}, meta=meta,
                              detail=f"repeats the prompt's demonstration, not its source: {' '.join(min(borrowed))!r}")]
        leaked = next((n for n in self.label_set.names if n != human(n) and n.casefold() in text.casefold()), None)
        if leaked is not None:
            return [Rejection(stage="filter", reason="label_name_in_text", data={cfg.text_field: text}, meta=meta,
                              detail=f"the text spells the label identifier {leaked!r}: {text[:100]!r}")]
        overlap, nearest = self.index.nearest(text)
        if overlap > cfg.max_overlap:
            which = "its source row" if nearest == row_i else f"real row {nearest + 1}"
            return [Rejection(stage="dedup", reason="near_copy_of_real", data={cfg.text_field: text}, meta=meta,
                              detail=f"{overlap:.0%} of its word 4-grams occur in {which}: {self.rows[nearest][cfg.text_field][:100]!r}")]
        if self.min_source_cosine is not None:
            async with self._lock:  # one embedder, one thread at a time
                cos = await asyncio.to_thread(self.source_cosine, text, source)
            if cos is not None:
                meta["scores"] = {**meta.get("scores", {}), "source_cosine": round(cos, 4)}
                if cos < self.min_source_cosine:
                    return [Rejection(stage="filter", reason="relevant:far_from_source", data={cfg.text_field: text},
                                      meta=meta, detail=f"cosine {cos:.2f} with its source row (min "
                                      f"{self.min_source_cosine:g}): {source[:60]!r} -> {text[:60]!r}")]
        if op == "typos":
            text = add_typos(text, ctx.rng(slot, "typos"))
        return [Record(data={cfg.text_field: text, cfg.label_field: label}, meta={**meta, "real_overlap": round(overlap, 4)})]


def build(config: AugmentTechnique, base_dir: Path) -> AugmentGenerator:
    return AugmentGenerator(config, base_dir)
