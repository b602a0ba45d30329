"""Instruction form: an instruction asks for something (a request or a question).

It is not a statement ("Dr. No is the sixth book of the Bond series ...") and not
a fragment that stops on a colon ("The most expensive item in this table is:").
A sentence is a request when it opens (after "please", "now", a leading
"Given ...,"/"Using ...," clause, ...) with an imperative verb or a request
phrase ("Can you", "I need", "Help me"); a question when it ends with "?" or
opens with a question word or an auxiliary. An instruction is well formed when
one of its sentences is a request or a question; a colon at its very end is
fine after a request ("Classify the following sentences:"), not after a fragment,
and an instruction that stops mid-sentence ("... Use the") is a fragment too.

An evolved instruction (Evol-Instruct) must also not be simpler than its parent:
`evolved_simpler` compares length and a count of constraints (numbers, "must",
"at least", "without", "only", ...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import Record, Rejection
from .base import GateContext, StatelessGate
from .completeness import check_completeness
from .pairs import PairFields
from .text import words

IMPERATIVE_VERBS = frozenset(
    """add adapt adjust align analyse analyze answer apply arrange ask assess assign avoid build calculate categorise
    categorize change check choose cite clarify classify clean combine come compare compile complete compose compute
    condense construct continue convert correct count craft create critique debug decide decode define delete derive
    describe design detect determine develop devise diagnose discuss distinguish divide do draft edit elaborate
    eliminate encode enumerate estimate evaluate examine expand explain explore express extract fill find finish fix
    flag format formulate generate give group guess help highlight identify illustrate imagine implement improve
    include indicate infer insert interpret introduce invent judge justify keep label let list locate look make map
    mark match measure mention merge modify name note offer order organise organize outline paraphrase parse pick plan
    point predict prepare present pretend prioritize produce propose prove provide put rank rate read recommend
    reconstruct recommend reduce refactor reformat reformulate remove rename reorder rephrase replace report represent
    research resolve respond restate restructure return reverse review revise rewrite role-play say schedule score
    select separate shorten show simplify sketch solve sort specify spell split state structure suggest summarise
    summarize supply swap take teach tell test think tokenize trace transform translate turn type underline
    use verify walk write""".split()
)
REQUEST_OPENERS = (
    "can you", "could you", "would you", "will you", "please", "i need", "i want", "i would like", "i'd like",
    "help me", "let's", "lets", "let us", "i'm looking for", "i am looking for", "you are", "act as", "imagine",
    "pretend", "suppose", "assume", "for each", "for every",
)
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could should would will shall "
    "may might has have had am".split()
)
LEAD_ADVERBS = frozenset("please now then also next finally first briefly quickly kindly just simply carefully".split())
LEAD_CLAUSE = re.compile(r"^(?:given|using|based on|with|without|from|for|in|as|after|before|if|when|assuming|"
                         r"starting|considering|according to)\b[^,:]{0,200}[,:]\s*", re.IGNORECASE)
_SENTENCES = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
CONSTRAINT_MARKERS = re.compile(
    r"\b(?:must|should|at least|at most|exactly|no more than|no fewer than|fewer than|less than|more than|only|"
    r"without|avoid|do not|don't|never|always|each|every|include|including|mention|using|in the style|"
    r"step by step|words?|sentences?|lines?|paragraphs?|bullet|format|json|table|list)\b|\d+",
    re.IGNORECASE,
)


CUT_REASONS = frozenset({"cut_mid_sentence", "cut_mid_word", "dangling_list_item", "open_code_fence", "unclosed_bracket"})


@dataclass(frozen=True, slots=True)
class Form:
    kind: str  # request | question | statement | fragment | empty
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.kind in ("request", "question")


def _sentence_kind(sentence: str) -> str | None:
    s = sentence.strip().strip("\"'“”‘’*#>-• ")
    if not s:
        return None
    if s.rstrip().endswith("?"):
        return "question"
    s = LEAD_CLAUSE.sub("", s, count=1)
    low = s.lower()
    if low.startswith(REQUEST_OPENERS):
        return "request"
    toks = words(low)
    while toks and toks[0] in LEAD_ADVERBS:
        toks = toks[1:]
    if not toks:
        return None
    if toks[0] in IMPERATIVE_VERBS:
        return "request"
    if toks[0] in QUESTION_WORDS and len(toks) > 2:
        return "question"
    return None


def instruction_form(text: str) -> Form:
    body = text.strip()
    if not body:
        return Form("empty", "the instruction is empty")
    first_par = body.split("\n\n", 1)[0]  # text after a blank line is the task's input, not the ask
    cut = check_completeness(body)
    if cut.reason in CUT_REASONS:
        return Form("fragment", f"the instruction is cut off ({cut.reason}): ...{body[-60:]!r}")
    kinds = [k for k in (_sentence_kind(m.group(0)) for m in _SENTENCES.finditer(first_par)) if k]
    if kinds:
        return Form("question" if "question" in kinds and "request" not in kinds else "request")
    if first_par.rstrip().endswith(":"):
        return Form("fragment", f"a fragment that stops on a colon: {first_par.strip()[-80:]!r}")
    return Form("statement", f"a statement, not a request or a question: {first_par.strip()[:80]!r}")


def constraint_count(text: str) -> int:
    return len(CONSTRAINT_MARKERS.findall(text))


def evolved_simpler(parent: str, evolved: str, operation: str | None = None,
                    breadth_min_ratio: float = 0.5) -> str | None:
    """Why an evolved instruction is simpler than its parent, or None.

    In-depth operations must keep the parent's length and constraints (both may
    grow); an in-breadth mutation writes a new task of the same difficulty, so it
    only must not shrink below `breadth_min_ratio` of the parent's length.
    """
    pw, ew = len(words(parent)), len(words(evolved))
    if operation == "breadth":
        if ew < breadth_min_ratio * pw:
            return f"{ew} words, under {breadth_min_ratio:.0%} of its parent's {pw} (an in-breadth task of the same difficulty)"
        return None
    if ew < pw:
        return f"{ew} words, shorter than its parent's {pw}"
    pc, ec = constraint_count(parent), constraint_count(evolved)
    if ec < pc:
        return f"{ec} constraints, fewer than its parent's {pc}"
    return None


class FormGate(StatelessGate):
    """`gate: form`: the instruction is a request or a question; an evolved one is not simpler than its parent."""

    name = "form"
    stage = "filter"

    def __init__(self, pair: PairFields | None = None, evolved: bool = True, breadth_min_ratio: float = 0.5) -> None:
        self.pair = pair or PairFields()
        self.evolved = evolved
        self.breadth_min_ratio = breadth_min_ratio

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        inst = self.pair.bare_instruction(rec.data)
        if inst is None:
            inst = self.pair.instruction_text(rec.data)  # raises the one-line error naming the field
        f = instruction_form(inst)
        rec = rec.with_scores(form=1.0 if f.ok else 0.0, form_kind=f.kind)
        if not f.ok:
            return Rejection.of(rec, "filter", f"form:{f.kind}", f.detail)
        parent = rec.meta.get("parent")
        if self.evolved and isinstance(parent, str) and parent.strip():
            why = evolved_simpler(parent, inst, rec.meta.get("operation"), self.breadth_min_ratio)
            if why:
                return Rejection.of(rec.with_scores(form=0.0, form_kind="simpler"), "filter", "form:simpler_than_parent",
                                    f"the evolved instruction is simpler than its parent: {why}")
        return rec


def build(config: Any, base_dir: Path) -> FormGate:
    return FormGate(PairFields(instruction=config.instruction_field), config.evolved, config.breadth_min_ratio)
