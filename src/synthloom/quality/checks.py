"""The acceptance checks every technique that writes free text gets by default, in one table.

    readable   the text reads as language: no JSON or list debris, no runs of punctuation, words in it
    complete   no mark of a cut: an unclosed bracket or quote, a dangling list item, an ending on ':' or 'the'
    relevant   fits what it was written for: a labelled text's nearest label is its own (embeddings,
               when the label checker would be the bundled model; rejected, or relabelled with
               `verify.action: relabel`; in augment each label is the mean of its real rows); a RAG question is a question, a how-many question gets an
               answer with a number, and no other sentence of the passage is nearer the question than
               the pair's evidence (quality/answer_fit.py), and the answer makes its question likelier
               (PMI under the bundled model, `relevant:answer_unlikely`: quality/pair_fit.py, run by the qa
               generator's `gates()`); an augmented text stays near its source row
               (MiniLM cosine >= 0.40, generators/augment.py); a conversation turn stays near the turn
               before it (quality/turns.py)
    fluent     perplexity under the bundled model (off by default: as slow as a model call on a small CPU)
    pmi        classification: the text is more likely after its own label's description than after the
               nearest other label's, under the bundled model (`pmi:off_label`, quality/text_fit.py; off by
               default: at its threshold it also rejects 15% of real messages, docs/benchmarks_junk.md)

Per technique: classification, augment, adversarial, qa, documents (all three on their prose);
translate, schema, extract (structural debris in the values only: codes, names and numbers are not
sentences); redteam (the attack as written, before a strategy encodes it; JSON quoted in it and an
ending on ':' are allowed, an attack does both on purpose); self_instruct, evol_instruct (the
instruction; an output may be code or JSON, and their `signals` add completeness, relevance and
fluency); conversation (every turn, inside the technique: `turn:unreadable`, `turn:cut_off`,
`turn:irrelevant`). tools has its own format/execution/semantics checks.

When the nearest-label check is on, the model label checker (`verify`, the bundled model there) flags
instead of rejecting or relabelling: on 20 intents the 270M checker agrees with a hand label on far fewer
real messages than the embeddings do (docs/benchmarks_junk.md), so it should not decide twice.

A recipe switches them with a top-level `checks:` (a list of names; `[]` for none; absent: the
technique's defaults below), the CLI with `--checks readable,complete` or `--checks none`. The engine
runs them after the recipe's own gates and before the technique's (so a junk text never costs a
label-checker call). Each rejection's reason starts with the check's name (`readable:json_debris`,
`complete:open_ending`, `relevant:nearest_label`, `relevant:not_a_question`,
`relevant:answer_without_quantity`).

Which fields are prose (every check) and which are only scanned for structural debris is per
technique, from its config: a schema's strings are never asked to be sentences, a translation's
source fields are the user's own data and are not checked at all.
"""
from __future__ import annotations

import re
from typing import Any

from ..records import Record, Rejection
from .base import Gate, GateContext, StatelessGate

CHECKS = ("readable", "complete", "relevant", "fluent", "pmi")
DEFAULTS = ("readable", "complete", "relevant")

# technique -> (prose fields, debris fields: None = every other string, () = none[, options]). A callable
# gets the technique's config. Options: `view` (what of a record is checked: redteam checks the attack as
# written, before its strategies encode it), `allow` (readable kinds a technique writes on purpose: an attack
# quotes JSON). Techniques with their own per-item checks (conversation: each turn, quality/turns.py; augment:
# relevance to its source row) take the switched-on names through `generator.use_checks(names)`.
TABLE: dict[str, Any] = {
    "classification": lambda c: ([c.text_field], ()),
    "augment": lambda c: ([c.text_field], ()),
    "adversarial": lambda c: ([c.text_field], ()),
    "qa": lambda c: (["question", "answer"], ()),
    "documents": lambda c: (["document"], ()),
    "translate": lambda c: ((), list(c.fields)),
    "schema": lambda c: ((), None),
    # values copied out of the user's documents: only structural debris (`}, {` inside a value)
    "extract": lambda c: ((), ["extraction"]),
    "redteam": lambda c: (["input"], (), {"view": lambda rec: {"input": rec.meta.get("payload", "")},
                                          # an attack quotes JSON and may end on "...verbatim:"
                                          "allow": ("json_debris", "placeholder", "open_ending")}),
    # the instruction is prose; an output may be code or JSON, so only the instruction is checked here
    # (their `signals` add completeness, relevance and fluency)
    "self_instruct": lambda c: (["instruction"], ()),
    "evol_instruct": lambda c: (["instruction"], ()),
    "conversation": lambda c: ((), ()),
}


def resolve(checks: list[str] | None) -> tuple[str, ...]:
    return DEFAULTS if checks is None else tuple(checks)


# the techniques where `relevant` checks something (a label, a source row, a question, the turn before)
RELEVANT = frozenset({"classification", "augment", "qa", "conversation"})
# where the checks run inside the technique, per item (conversation: every turn)
INSIDE = frozenset({"conversation"})


def applied_checks(recipe: Any) -> list[str]:
    """The checks a run of this recipe applies (for the manifest and the report): the switched-on names that
    do something in this technique (`complete` and `fluent` need prose fields, `relevant` a reference)."""
    cfg = recipe.generate
    fields = TABLE.get(cfg.technique)
    if fields is None:
        return []
    prose = bool(fields(cfg)[0]) or cfg.technique in INSIDE
    return [c for c in resolve(getattr(recipe, "checks", None))
            if c == "readable" or (c == "relevant" and cfg.technique in RELEVANT)
            or (c == "complete" and prose) or (c == "fluent" and prose and cfg.technique not in INSIDE)
            or (c == "pmi" and cfg.technique == "classification")]


_QUANTITY_QUESTION = re.compile(r"\bhow (?:many|much|long|old|often|far|soon)\b", re.IGNORECASE)
_QUANTITY = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                       r"forty|fifty|hundred|thousand|million|once|twice|a few|several|no|none|half|"
                       r"daily|weekly|monthly|yearly|annually)\b", re.IGNORECASE)


class QuestionGate(StatelessGate):
    """`relevant` for a RAG pair: the question is a question or a request, not a statement (a short keyword
    query is fine), and a how-many/how-long question gets an answer with a quantity in it."""

    name = "question_form"
    stage = "filter"

    def __init__(self, field: str = "question", answer_field: str = "answer", keyword_words: int = 5) -> None:
        self.field, self.answer_field, self.keyword_words = field, answer_field, keyword_words

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        from .form import instruction_form

        data = rec.data if isinstance(rec.data, dict) else {}
        text = str(data.get(self.field, ""))
        f = instruction_form(text)
        if not f.ok and (len(text.split()) > self.keyword_words or text.rstrip().endswith((".", "!"))):
            return Rejection.of(rec, "filter", "relevant:not_a_question", f"{self.field}: {f.detail}")
        answer = str(data.get(self.answer_field, ""))
        asks = _QUANTITY_QUESTION.search(text)
        if asks and data.get("kind") != "unanswerable" and answer and not _QUANTITY.search(answer):
            return Rejection.of(rec, "filter", "relevant:answer_without_quantity",
                                f"the question asks {asks.group(0).lower()!r}, the answer gives no number: {answer[:80]!r}")
        return rec


def _checker_is_bundled(recipe: Any) -> bool:
    """Would the label checker be the bundled model (a llamacpp model with no GGUF of the user's own)?"""
    verify = getattr(recipe.generate, "verify", None)
    model = verify.model if verify is not None and verify.model is not None else recipe.models()[0]
    return getattr(model, "backend", None) == "llamacpp" and not getattr(model, "path", None)


def checked_gates(recipe: Any, generator: Any) -> list[Gate]:
    """The default checks, then the technique's own gates. When the nearest-label check stands in for a
    label checker that is the bundled model, that checker only flags: one judge of the label decides."""
    checks = default_checks(recipe, generator)
    own = list(generator.gates())
    from .label_fit import LabelFitGate

    if any(isinstance(g, LabelFitGate) for g in checks):
        from .label import LabelGate as VerifyGate

        for g in own:
            if isinstance(g, VerifyGate) and g.action != "flag":
                g.action = "flag"
    return checks + own


def _embeddings_installed() -> bool:
    """MiniLM is an extra (`synthloom[embed]`): without it the nearest-label check is skipped, with a warning."""
    try:
        import tokenizers  # noqa: F401

        from .embeddings import bundled_minilm_path

        bundled_minilm_path()
        return True
    except Exception as exc:  # MissingDependencyError, or a broken install
        import logging

        logging.getLogger(__name__).warning("checks: relevant: the nearest-label check is skipped (%s)", exc)
        return False


def default_checks(recipe: Any, generator: Any) -> list[Gate]:
    """The acceptance checks for this recipe's technique (the recipe's `checks:` or the defaults)."""
    cfg = recipe.generate
    fields = TABLE.get(cfg.technique)
    on = resolve(getattr(recipe, "checks", None))
    if fields is not None and hasattr(generator, "use_checks"):
        generator.use_checks(on)  # its own per-item checks follow the same switches
    if fields is None or not on:
        return []
    prose, debris, *extra = fields(cfg)
    options = extra[0] if extra else {}
    gates: list[Gate] = []
    if ("readable" in on or "complete" in on) and (prose or debris is None or debris):
        from .acceptance import AcceptanceGate

        gates.append(AcceptanceGate(prose, debris, readable="readable" in on, complete="complete" in on,
                                    view=options.get("view"), allow=options.get("allow", ())))
    if "relevant" in on:
        if cfg.technique in ("classification", "augment") and _checker_is_bundled(recipe) and _embeddings_installed():
            from .label_fit import LabelFitGate

            # augment: each label is represented by its real rows too (`fit_labels`)
            labels = generator.fit_labels() if hasattr(generator, "fit_labels") else generator.label_set
            gates.append(LabelFitGate(labels, text_field=cfg.text_field, label_field=cfg.label_field,
                                      action="relabel" if cfg.verify.action == "relabel" else "reject"))
        elif cfg.technique == "qa":
            gates.append(QuestionGate())
            if _embeddings_installed():
                from .answer_fit import AnswerFitGate

                gates.append(AnswerFitGate())
    if "pmi" in on and cfg.technique == "classification" and _embeddings_installed():
        from .text_fit import LabelPmiGate

        gates.append(LabelPmiGate(generator.label_set, getattr(generator, "task", None), text_field=cfg.text_field,
                                  label_field=cfg.label_field))
    if "fluent" in on and prose:
        from .fluency import FluencyGate

        gates.append(FluencyGate(fields=list(prose)))
    return gates
