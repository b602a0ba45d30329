"""Documents with known ground truth: a JSON schema -> a label -> a document that states exactly it.

For bootstrapping an extraction model before any real documents exist. Each slot:

1. samples one value per style axis (`attributes`, kept in lineage);
2. asks for a ground-truth record under the schema (constrained JSON), computes
   the `derive` fields (totals, line amounts), and checks it with jsonschema and the
   recipe's entity rules;
3. asks for a realistic document (invoice, email, report, ...) that states that
   record, in the sampled style;
4. checks that every labelled value is recoverable from the document (exact or
   normalized match: case, spacing, number and date formats folded) and, when
   `reject_invented` names them, that the document states no date or amount the
   label lacks; and that a document naming fields (`field: value`) states each value
   under its own name (`rules.misattributed_values`). A document that lost, invented or
   misattributed a value is rejected (`rule:recoverable`, `rule:invented`,
   `rule:misattributed`) with the values named.

Two forms for step 3 (`prompt_form`). `chat`: instructions, the record in <record> tags, the examples as
worked turns. `document`, for a base model (auto: when llm/render.style_of says "completion" and no attributes
or samplers are set): the examples as filled-in documents one after another (prompts/documents_document.j2),
each its `field: value` lines and its text with every labelled value replaced by its `{field}` slot, then the
record's lines and an open "Text:" line. The model writes slots, the code fills them (`fill_slots`): on the
bundled model the chat form lost a value from most documents (a rare string copied letter by letter), the
slots kept them (docs/benchmarks_junk.md). A slot the record lacks is `unknown_slot`; a line naming one
value twice is the model looping (`repeated_value`). A failed document is written again for the same record,
`write_tries` times (3 in the document form, 1 in chat), so it costs one call, not a new record too. With
`reject_copies` (off by default: on the bundled model it cut accepted documents) each write shows `MAX_SHOTS`
of the examples in a seeded order (`meta.examples_shown`), and a document that is an example's text with its
values swapped (`copied_text`) is rejected as `copied_example`, naming the example, on every try but the last.
A label value that does not read as its field's examples (quality/value_fit.py) is `value:<kind>`.

Output: `{document, label}` pairs (or chat turns, `emit: messages`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..config.documents import DocumentsTechnique
from ..errors import RecipeError
from ..llm import narrowing, runaway
from ..llm.runaway import in_order_share
from ..llm.jsontext import validator
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.recoverable import recoverable_problem
from ..quality.rules import apply_derive, describe_rule, leaves, validate_object
from ..quality.text import date_spans, without_dates
from ..quality.value_fit import ValueFit
from ..records import Record, Rejection
from ..sources.names import id_examples, sample_ids, sample_names
from ..sources.templates import quote
from ._grounded import outline, parse_object, sampled
from .base import GenContext, Generator
from .extract import extraction_messages
from .schema_io import load_schema
from .variety import Variety

MAX_SHOTS = 2
WRITE_TRIES_DOCUMENT = 3  # the document form's default `write_tries` (docs/benchmarks_junk.md)
LABEL_TRIES = 3  # a label that fails to parse, is cut at a bound or breaks a rule is retried down the ladder


BUILTIN_WRITE_SHOT = {
    "style": {},
    "label": {"order_id": "SO-1182", "order_date": "2023-03-07", "customer": "Lakeside Dental Clinic",
              "items": 3, "amount": 412.5},
    "document": "ORDER CONFIRMATION\nOrder id: SO-1182\nOrder date: 2023-03-07\nCustomer: Lakeside Dental Clinic\n"
                "Items: 3\nAmount: 412.5\nThank you for your business.",
}

# the prompt's own markers and its last line ("Write the invoice."), echoed after a document, and the
# <input>/<output> tags the bundled model sometimes adds there
WRITE_STOPS = ("</record>", "<record>", "\nOutput:", "\nStyle:", "\nWrite the ", "<output>", "</output>", "<input>",
               "</input>")


# the document form: the next block's separator, or a second record's lines after a blank line
DOCUMENT_STOPS = ("\n---", "\n\n\n", "\nText:")


def trim_document(text: str, truncated: bool) -> str:
    """A document as the model wrote it, without a second copy of itself (small models loop) and,
    when cut by the token limit, back to its last complete line."""
    text = text.strip()
    cut = repeat_start(text.split("\n"))
    if cut is not None:
        text = "\n".join(text.split("\n")[:cut]).rstrip()
        truncated = False
    if truncated and "\n" in text:
        text = text[: text.rfind("\n")].rstrip()
    return text


def repeat_start(lines: list[str]) -> int | None:
    """Index of the line where the text starts repeating itself (two consecutive lines seen before, in order)."""
    seen: dict[tuple[str, str], int] = {}
    body = [(i, ln.strip()) for i, ln in enumerate(lines) if ln.strip()]
    for k in range(len(body) - 1):
        (i, a), (_, b) = body[k], body[k + 1]
        key = (a, b)
        if key in seen and len(a) + len(b) > 12:
            return i
        seen.setdefault(key, i)
    return None


def record_lines(label: Any) -> str:
    """A label as `path: value` lines, the form a small model copies most faithfully."""
    return "\n".join(f"{path}: {value}" for path, value in leaves(label))


SLOT = re.compile(r"\{([A-Za-z_][\w.\[\]]*)\}")


def slotted(label: Any, document: str) -> str:
    """An example document with each labelled value (as written, any case, not inside a longer word or number)
    replaced by its `{field}` slot, longest values first: `Call 555-0142` -> `Call {phone}`. The document
    form shows the examples this way; the model writes slots too, and `fill_slots` puts the values in."""
    forms = [(p, str(v), _is_number(v)) for p, v in leaves(label)]
    forms += [(p, f"{v:.2f}", True) for p, v in leaves(label) if isinstance(v, float)]  # 81.0 written as 81.00
    for path, value, number in sorted(forms, key=lambda pv: -len(pv[1])):
        if number:  # a number of its own, any length ("Places: 1"), never a part of a date, a time or a number
            spans = date_spans(document)
            document = re.sub(NUMBER_ALONE.format(re.escape(value)), lambda m, p=path: m.group(0) if any(
                a <= m.start() < b for a, b in spans) else "{" + p + "}", document)
        elif len(value.strip()) > 1:
            document = re.sub(r"(?<![\w{])" + re.escape(value) + r"(?![\w}])", lambda _m, p=path: "{" + p + "}",
                              document, flags=re.IGNORECASE)
    return document


NUMBER_ALONE = r"(?<![\w{{.,:/-]){}(?![\w}}:/-]|[.,]\d)"  # a number not inside a word, a slot or another number


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def repeated_slot(text: str, label: Any = None) -> tuple[str, str] | None:
    """(the line, the slot) of the first line naming one `{field}` slot twice, or a slot and its record's
    value written out as well ("LIA went missing ... with grey, {pet_name} and dog")."""
    values = {p: str(v) for p, v in leaves(label)} if label is not None else {}
    for line in text.split("\n"):
        slots = SLOT.findall(line)
        rest = SLOT.sub(" ", line)
        for slot in slots:
            value = values.get(slot, "")
            written = re.findall(r"(?<!\w)" + re.escape(value) + r"(?!\w)", rest, flags=re.IGNORECASE) \
                if len(value) > 2 and any(c.isalpha() for c in value) else []
            if slots.count(slot) + len(written) > 1:
                return line, slot
    return None


def number_inside(label: Any, written: str) -> tuple[str, Any] | None:
    """(path, value) of a labelled number the model wrote neither as its slot nor as a number of its own: a flyer
    saying "Tickets: 9" for a price of 6 passed the normalized match on "6:30 pm" (the record's time, filled in)."""
    filled = without_dates(fill_slots(written, label)[0])  # the 12 of "12:30" or "Dec 12, 2024" is no number of its own
    for path, value in leaves(label):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or "{" + path + "}" in written:
            continue
        forms = {str(value), f"{value:,}", f"{value:,.2f}"} | ({str(int(value)), f"{value:.2f}", f"{int(value):,}"}
                                             if float(value).is_integer() else set())
        if not any(re.search(r"(?<![\d.:/,-])" + re.escape(f) + r"(?![\d:/-]|[.,]\d)", filled) for f in forms):
            return path, value
    return None


COPY_SHARE = 0.9  # a document with this share of an example's words in order is that example, its values swapped
COPY_MIN_WORDS = 8  # shorter documents are a line or two; the same line twice is no sign of copying


def copied_text(text: str, shown: list[str]) -> tuple[int, float] | None:
    """(index, share) of the example text `text` copies, or None. Both with their values as `{field}` slots
    (`slotted`): the share of the document's words that are that example's words in the same order
    (`runaway.in_order_share`), or of the example's words the document repeats, whichever is larger."""
    mine = _copy_words(text)
    if len(mine) < COPY_MIN_WORDS:
        return None
    best = max(((i, max(in_order_share(theirs, mine), in_order_share(mine, theirs)))
                for i, t in enumerate(shown) for theirs in [_copy_words(t)] if theirs), key=lambda x: x[1], default=None)
    return best if best is not None and best[1] >= COPY_SHARE else None


def copy_share(text: str, shown: list[str]) -> float:
    """The largest share `copied_text` measures against any of `shown` (for benchmarks and reports)."""
    mine = _copy_words(text)
    return max((max(in_order_share(t, mine), in_order_share(mine, t)) for t in map(_copy_words, shown) if t and mine),
               default=0.0)


def _copy_words(text: str) -> list[str]:
    return re.findall(r"\{[^{}]*\}|\w+", text.lower())


def fill_slots(document: str, label: Any) -> tuple[str, list[str]]:
    """(the document with each `{field}` slot replaced by the record's value, slots the record lacks)."""
    values = {p: str(v) for p, v in leaves(label)}
    unknown = [m for m in SLOT.findall(document) if m not in values]
    return SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), document), unknown


def style_line(style: Any) -> str:
    if isinstance(style, dict):
        return "; ".join(f"{k}: {v}" for k, v in style.items())
    return str(style or "")


def plural(noun: str) -> str:
    """"lost pet poster" -> "lost pet posters", for the document form's first line."""
    noun = noun.strip() or "document"
    return noun if noun.endswith("s") else noun + "s"


class SyntheticDocumentsGenerator(Generator):
    technique = "documents"
    # accepted per attempt on the bundled model (docs/benchmarks_readme_commands.md); sets the default budget
    expected_yield = 0.33

    def __init__(self, config: DocumentsTechnique, base_dir: Path) -> None:
        self.config = config
        self.schema = load_schema(config.json_schema, base_dir, "generate.schema")
        self.validator = validator(self.schema)
        self._hints = runaway.length_hints(self.schema, [ex["label"] for ex in config.examples])
        # "e.g." values and the examples' free text, which a label must not just repeat
        self._shown = runaway.example_values(self.schema, [ex["label"] for ex in config.examples])
        self._avoid = runaway.shown_texts(self._shown)  # constrain.CopyGuard
        self._value_fit = ValueFit(self.schema, [ex["label"] for ex in config.examples])  # quality/value_fit.py
        n = config.narrowing
        self._narrowings = narrowing.learn(self.schema, [ex["label"] for ex in config.examples], shapes=n.shapes,
                                           dates=n.dates, numbers=n.numbers, skip=n.skip)
        declared = config.names if isinstance(config.names, dict) else {}
        for key in declared:
            if key not in (self.schema.get("properties") or {}):
                raise RecipeError(f"generate.names.{key}: the schema has no top-level field {key!r}; "
                                  "name a field of the schema or remove it")
        self._names = {k: kind for k, kind in declared.items() if kind != "id"}
        self._ids = id_examples([k for k, kind in declared.items() if kind == "id"],
                                narrowing.example_values_by_path(self.schema, [ex["label"] for ex in config.examples]))
        self.variety = Variety(config.samplers, base_dir, config.instruction)  # generators/variety.py
        self.prompts = {n: load_prompt(f"documents_{n}") for n in ("label_system", "label_user", "write_system",
                                                                   "write_user")}
        for i, ex in enumerate(config.examples):
            problem = validate_object(ex["label"], validator=self.validator)
            if problem:
                raise RecipeError(f"generate.examples[{i}].label does not match the schema ({problem[1]})")
        dt = config.document_type
        self._label_system = self.prompts["label_system"].render(document_type=dt, instruction=config.instruction,
                                                                 fields=outline(self.schema))
        self._write_system = self.prompts["write_system"].render(document_type=dt)
        shots = config.examples[:MAX_SHOTS]
        self._label_shots: list[dict[str, str]] = []
        self._write_shots: list[dict[str, str]] = []
        for ex in shots:
            style = ex.get("style") or ex.get("attributes") or {}
            self._label_shots += [
                {"role": "user", "content": self._label_user(style if isinstance(style, dict) else {})},
                {"role": "assistant", "content": json.dumps(ex["label"], ensure_ascii=False)},
            ]
        # Without the user's examples a small model writes nothing, or "Line 1:" (5 of 22 documents in
        # the issue): one generic shot on another record shows the form (record in, document out). Only
        # for the writing step: a label shot's values would be copied into the labels.
        builtin = {**BUILTIN_WRITE_SHOT, "document": BUILTIN_WRITE_SHOT["document"].replace(
            "ORDER CONFIRMATION", str(dt).upper())}
        for ex in shots or [builtin]:
            style = ex.get("style") or ex.get("attributes") or {}
            self._write_shots += [
                {"role": "user", "content": self._write_user(ex["label"], style)},
                {"role": "assistant", "content": str(ex["document"]).strip()},
            ]

        # the document form (prompt_form): the same examples (or the built-in one) as filled-in documents
        self.document = load_prompt("documents_document")
        title = plural(str(dt))
        self._title = title[:1].upper() + title[1:]
        # every example (not only the first MAX_SHOTS): each write shows MAX_SHOTS of them in a seeded order
        self._doc_shots = [{"fields": record_lines(ex["label"]), "text": slotted(ex["label"], str(ex["document"]).strip()),
                            "style": style_line(ex.get("style") or ex.get("attributes"))}
                           for ex in (config.examples or [builtin])]
        # a document that is an example's text with its values swapped is rejected (`copied_text`), unless the
        # examples are near copies of each other (then the user asks for one form)
        self._shown_texts = [d["text"] for d in self._doc_shots]
        self._copies_shown = any(copied_text(a, [b]) for i, a in enumerate(self._shown_texts)
                                 for b in self._shown_texts[i + 1:])
        # a line stating one value twice ("on {date} from {street} on {date} from {street}") is the 270M writer
        # looping; rejected unless an example does it too
        self._repeats_shown = any(repeated_slot(slotted(ex["label"], str(ex["document"])), ex["label"])
                                  for ex in (shots or [builtin]))

    def _label_user(self, attributes: dict[str, str]) -> str:
        return self.prompts["label_user"].render(document_type=self.config.document_type, attributes=attributes)

    def _write_user(self, label: dict[str, Any], style: Any) -> str:
        if isinstance(style, dict):
            style = "; ".join(f"{k}: {v}" for k, v in style.items())
        return self.prompts["write_user"].render(record=quote(record_lines(label), "record"),
                                                 style=style or "", document_type=self.config.document_type)

    def describe(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "templates": {p.name: p.hash for p in (*self.prompts.values(), self.document)},
            "document_type": self.config.document_type,
            "attributes": self.config.attributes,
            "rules": [describe_rule(r) for r in self.config.rules],
            "narrowing": self._narrowings.lines(),
            "values": self._value_fit.lines(),
            "retries": runaway.RETRY_NOTE,
            "match": self.config.match,
            "reject_invented": list(self.config.reject_invented),
            "examples": len(self.config.examples),
            "emit": self.config.emit,
            "prompt_form": self.config.prompt_form,
            "reject_copies": self.config.reject_copies,
            "write_tries": self.config.write_tries or f"{WRITE_TRIES_DOCUMENT} (document form), 1 (chat form)",
            "names": {**self._names, **{k: "id" for k in self._ids}} if self._names or self._ids else "model",
            **({"variety": self.variety.describe()} if self.variety else {}),
        }

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        rng = ctx.rng(slot)
        attributes = {axis: rng.choice(values) for axis, values in cfg.attributes.items()}
        await self.variety.prepare(ctx)  # samplers: shown as the axes are, pinned where named like a field
        drawn = self.variety.draw(slot, ctx) if self.variety else {}
        pins = self._pins(drawn)
        names = sample_names(self.schema, self._names, rng)  # pinned in the decoder: no XYZ, no seller == buyer
        names.update(sample_ids(self._ids, rng))  # AP-5821 in the shape of the schema's "e.g. AP-0093"
        meta: dict[str, Any] = {
            "technique": self.technique,
            "template": "documents_label_system+documents_write_system",
            "template_hash": "".join(p.hash for p in self.prompts.values()),
            "document_type": cfg.document_type,
            "attributes": {**attributes, **drawn},
            "slot": slot,
        }
        if names:
            meta["names"] = names
        attributes = {**attributes, **self.variety.shown(drawn)}
        out: list[Record | Rejection] = []
        label = None
        messages = ({"role": "system", "content": self._label_system}, *self._label_shots,
                    {"role": "user", "content": self._label_user(attributes)})
        for attempt in range(LABEL_TRIES):
            # the first try under the shared runaway defences, then the narrowing ladder (llm/runaway.py)
            label_seed = ctx.request_seed(slot, 0 if attempt == 0 else 100 + attempt)
            meta["seed"] = label_seed
            rung = runaway.rung_for(attempt)
            decoding = runaway.attempt_schema(self.schema, attempt, self._hints, self._narrowings)
            for key, name in names.items():
                decoding["properties"][key] = {"type": "string", "enum": [name]}
            for key, value in pins.items():
                decoding["properties"][key] = {**decoding["properties"].get(key, {}), "enum": [value]}
            label_req = GenerationRequest(
                messages=messages, json_schema=decoding, avoid=self._avoid,
                seed=label_seed, **sampled(cfg.label_sampling, temperature=min(cfg.label_sampling.temperature,
                                                                                rung.temperature)),
            )
            (label_res,) = await ctx.llm.generate([label_req])
            meta["model"] = label_res.model
            label_meta = {**meta, "label_attempt": attempt + 1}
            label, rejection = parse_object(label_res, label_meta, self.schema)
            if rejection is None:
                if cfg.derive:
                    label = apply_derive(label, cfg.derive)
                problem = validate_object(label, validator=self.validator, rules=cfg.rules)
                if problem is None:  # an example copied
                    problem = runaway.record_problem(label, self._shown)
                if problem is None:  # "last seen at P.1,49": a value that does not read as its field's examples
                    problem = self._value_fit.problem(label)
                if problem is not None:
                    rejection = Rejection(stage="validate", reason=problem[0], detail=f"label: {problem[1]}",
                                          data={"label": label}, raw=label_res.text, meta=label_meta)
            if rejection is None:
                meta["label_attempt"] = attempt + 1
                break
            out.append(rejection)
            label = None
        if label is None:
            return out

        form = self.prompt_form(ctx.llm)
        meta["prompt_form"] = form
        tries = cfg.write_tries or (WRITE_TRIES_DOCUMENT if form == "document" else 1)
        for attempt in range(tries):
            # the same record written again on a new seed: a lost value costs one call, not a new record too
            write_seed = ctx.request_seed(slot, 1 if attempt == 0 else 200 + attempt)
            meta = {**meta, "write_seed": write_seed, "write_attempt": attempt + 1}
            if form == "document":
                order = self.shown_order(ctx.rng(slot, f"examples:{attempt}")) if cfg.reject_copies else None
                meta["examples_shown"] = [i + 1 for i in (order or range(min(MAX_SHOTS, len(self._doc_shots))))]
                write_req = GenerationRequest(prompt=self.document_prompt(label, attributes, order), stop=DOCUMENT_STOPS,
                                              seed=write_seed, **sampled(cfg.sampling))
                meta.update(template="documents_label_system+documents_document",
                            template_hash=self.prompts["label_system"].hash + self.document.hash)
            else:
                write_req = GenerationRequest(
                    messages=(
                        {"role": "system", "content": self._write_system}, *self._write_shots,
                        {"role": "user", "content": self._write_user(label, attributes)},
                    ),
                    seed=write_seed, stop=WRITE_STOPS, **sampled(cfg.sampling),
                )
            (doc_res,) = await ctx.llm.generate([write_req])
            if not doc_res.ok:
                return out + [Rejection(stage="parse", reason="backend_error", detail=str(doc_res.error)[:300],
                                        data={"label": label}, meta=meta)]
            truncated = doc_res.finish_reason == "length"
            document = trim_document(doc_res.text, truncated)
            meta["truncated"] = truncated
            if form == "document":  # the model wrote {field} slots where the examples show them: the values go in
                twice = None if self._repeats_shown else repeated_slot(document, label)
                if twice:
                    out.append(Rejection(stage="validate", reason="repeated_value",
                                         detail=f"{{{twice[1]}}} twice in one line: {twice[0][:160]!r}",
                                         data={"label": label}, raw=doc_res.text, meta=meta))
                    continue
                written = document
                document, unknown = fill_slots(document, label)
                if unknown:
                    out.append(Rejection(stage="parse", reason="unknown_slot",
                                         detail=f"the document names {', '.join('{' + u + '}' for u in unknown)}, "
                                                "which the record does not have", data={"label": label},
                                         raw=doc_res.text, meta=meta))
                    continue
                stray = number_inside(label, written)
                if stray:
                    out.append(Rejection(stage="validate", reason="rule:recoverable",
                                         detail=f"{stray[0]}={stray[1]!r} is not in the document as a number of its "
                                                "own (missing, or only inside another number or a date)",
                                         data={"document": document, "label": label}, raw=doc_res.text, meta=meta))
                    continue
            if len(document) < 20:
                out.append(Rejection(stage="parse", reason="empty_document", detail=f"document too short: {document!r}",
                                     data={"label": label}, raw=doc_res.text, meta=meta))
                continue
            problem = recoverable_problem(label, document, cfg.match, cfg.skip_fields, cfg.reject_invented)
            if problem is None and cfg.reject_copies and not self._copies_shown and attempt < tries - 1:
                copy = copied_text(slotted(label, document), self._shown_texts)
                if copy is not None:
                    problem = ("copied_example", f"the document is example {copy[0] + 1}'s text with its values "
                               f"swapped: {copy[1]:.0%} of its words are that example's, in order (max "
                               f"{COPY_SHARE:.0%})")
            if problem is not None:
                out.append(Rejection(stage="validate", reason=problem[0], detail=problem[1],
                                     data={"document": document, "label": label}, raw=doc_res.text, meta=meta))
                continue
            return out + [Record(data=self.record_data(document, label), meta=meta)]
        return out

    def prompt_form(self, llm: Any) -> str:
        """`prompt_form` as the run uses it: `auto` is the document form when the writer is a base model
        (llm/render.style_of) and no attribute axes or samplers are set (the document form has no words for them)."""
        from ..llm.render import resolve_form

        return resolve_form(self.config.prompt_form, llm, plain=not self.config.attributes and not self.variety)

    def shown_order(self, rng: Any) -> list[int]:
        """Which examples one write shows, in which order: `MAX_SHOTS` of them drawn and shuffled by `rng`. The
        bundled model writes the last example it saw with the values swapped; a fixed order made every
        document the second example's text (docs/benchmarks_junk.md)."""
        return rng.sample(range(len(self._doc_shots)), k=min(MAX_SHOTS, len(self._doc_shots)))

    def document_prompt(self, label: dict[str, Any], style: Any = None, order: list[int] | None = None) -> str:
        """The examples (`order`: which, default the first `MAX_SHOTS`) as filled-in documents, then the new
        record's values and its open "Text:" line (a "Style:" line where the recipe sets attributes and asks
        for this form)."""
        shots = [self._doc_shots[i] for i in (order if order is not None else range(min(MAX_SHOTS, len(self._doc_shots))))]
        docs = [*shots, {"fields": record_lines(label), "text": "", "style": style_line(style)}]
        return self.document.render(title=self._title, document_type=self.config.document_type,
                                    docs=docs).rstrip() + "\n"

    def _pins(self, drawn: dict[str, Any]) -> dict[str, Any]:
        """Sampled values named like a top-level field of the schema and valid for it: pinned in the decoder."""
        props = self.schema.get("properties") or {}
        return {k: v for k, v in drawn.items() if isinstance(v, (str, int, float, bool)) and isinstance(props.get(k), dict)
                and validator(props[k]).is_valid(v)}

    def shown_records(self) -> tuple[Any, ...]:
        return tuple(self.record_data(str(ex["document"]).strip(), ex["label"]) for ex in self.config.examples)

    def record_data(self, document: str, label: dict[str, Any]) -> dict[str, Any]:
        if self.config.emit == "messages":
            return {"messages": extraction_messages(document, label, self.schema, self.config.instruction)}
        return {"document": document, "label": label}


def build(config: DocumentsTechnique, base_dir: Path) -> SyntheticDocumentsGenerator:
    return SyntheticDocumentsGenerator(config, base_dir)
