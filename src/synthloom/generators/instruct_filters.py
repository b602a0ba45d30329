"""The published filters of Self-Instruct and the elimination rules of Evol-Instruct.

Self-Instruct (Wang et al. 2022, and its code `bootstrap_instructions.py`,
`prepare_for_finetuning.py`):

- instruction: more than 3 and at most 150 words; no blacklisted keyword (tasks a
  text model cannot do: image, graph, file, draw, ...); not starting with
  "Write a program"; not starting with punctuation or a non-ASCII character;
  ROUGE-L F <= 0.7 with every task already in the pool (`SelfInstructRougeGate`,
  a stateful gate, so the check and the insertion are one atomic step);
- instances: output equal to input, empty output, input or output ending with
  a colon (cut-off generation), duplicate instances, and a task whose instances
  give one input two different outputs (all its instances are dropped).

Evol-Instruct (Xu et al. 2023, WizardLM section 3.3): an evolution fails when
the evolved instruction brings no information gain over its parent, its
response is a refusal ("sorry" and fewer than 80 words) or only punctuation and
stop words, or the evolved instruction copies the evolving prompt's own phrases.

Each check returns None when the item passes, else a `Problem` (a stable
reason key and a human detail) that the generator turns into a `Rejection`.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Iterable, Sequence

from ..config.instruct import DEFAULT_BLACKLIST
from ..quality.base import GateContext
from ..quality.canned import is_refusal
from ..quality.rouge import RougePool, rouge_l, tokenize
from ..records import Problem, Record, Rejection, content_hash


# ----------------------------------------------------------------------------- Self-Instruct: instructions

def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(word) + r"\b", re.IGNORECASE)


class InstructionFilter:
    """Self-Instruct's per-instruction heuristics (everything except ROUGE-L)."""

    def __init__(
        self,
        min_words: int = 3,
        max_words: int = 150,
        blacklist: Sequence[str] = DEFAULT_BLACKLIST,
        drop_write_a_program: bool = True,
    ) -> None:
        self.min_words = min_words
        self.max_words = max_words
        self.blacklist = [(w, _word_pattern(w)) for w in blacklist]
        self.drop_write_a_program = drop_write_a_program

    def check(self, instruction: str) -> Problem | None:
        inst = instruction.strip()
        n = len(inst.split())
        if n <= self.min_words or n > self.max_words:
            return Problem("length", f"{n} words; an instruction needs {self.min_words} < words <= {self.max_words}")
        for word, pat in self.blacklist:
            if pat.search(inst):
                return Problem(f"blacklist:{word}", f"mentions {word!r}, which a text-only model cannot do")
        if self.drop_write_a_program and inst.startswith("Write a program"):
            return Problem("write_a_program", "starts with 'Write a program' (ambiguous: code or the result?)")
        if inst[0] in string.punctuation:
            return Problem("starts_with_punctuation", f"starts with {inst[0]!r}")
        if not inst[0].isascii():
            return Problem("starts_with_non_ascii", f"starts with the non-ASCII character {inst[0]!r}")
        return None


def rouge_reason(threshold: float) -> str:
    return f"rouge_l>{threshold:g}"


class SelfInstructRougeGate:
    """ROUGE-L F of a new instruction against every task in the pool (seeds + accepted) must be <= threshold.

    Stateful: the engine runs it under its lock, so two similar candidates in
    flight cannot both get in. Instances of one task (same `task_id` in meta)
    share an instruction: once the task is in, its sibling instances pass.
    """

    name = "self_instruct_rouge"
    stage = "filter"
    stateful = True

    def __init__(self, seed_instructions: Iterable[str], threshold: float = 0.7) -> None:
        self.threshold = threshold
        self.pool = RougePool(seed_instructions)
        self.n_seeds = len(self.pool)
        self.tasks: set[str] = set()

    def _key(self, rec: Record) -> str:
        return rec.meta.get("task_id") or content_hash(rec.data.get("instruction", ""), 8)

    def prime(self, accepted: Iterable[Record]) -> None:
        for rec in accepted:
            if "instruction" in rec.data:
                self.commit(rec)

    def precheck(self, instruction: str) -> Problem | None:
        """The same test without the lock (a generator uses it to skip calls for a sure loser)."""
        score, idx = self.pool.exceeds(instruction, self.threshold)
        if idx is None:
            return None
        return Problem(
            rouge_reason(self.threshold),
            f"ROUGE-L {score:.2f} > {self.threshold:g} with {'seed' if idx < self.n_seeds else 'pooled'} task "
            f"{self.pool.texts[idx][:160]!r}",
        )

    async def check(self, rec: Record, ctx: GateContext | None = None) -> Record | Rejection:
        if self._key(rec) in self.tasks:
            return rec
        v = self.precheck(rec.data.get("instruction", ""))
        return v.rejection("filter", data=rec.data, meta=rec.meta) if v else rec

    def commit(self, rec: Record) -> None:
        key = self._key(rec)
        if key not in self.tasks:
            self.tasks.add(key)
            self.pool.add(rec.data.get("instruction", ""))


# ----------------------------------------------------------------------------- Self-Instruct: instances

@dataclass(frozen=True, slots=True)
class Instance:
    input: str
    output: str


def check_instance(inst: Instance) -> Problem | None:
    """One instance on its own (prepare_for_finetuning.filter_invalid_instances)."""
    if not inst.output.strip():
        return Problem("empty_output", "the output is empty")
    if inst.input.strip() == inst.output.strip():
        return Problem("output_equals_input", "the output repeats the input")
    if inst.input.strip().endswith(":") or inst.output.strip().endswith(":"):
        return Problem("incomplete_colon", "input or output ends with ':' (a cut-off generation)")
    return None


def filter_instances(instances: Sequence[Instance]) -> tuple[list[Instance], list[tuple[Instance, Problem]]]:
    """All instance filters on one task's instances: (kept, [(dropped, why)]).

    Order as in the paper's code: invalid instances out, then if any two share a
    non-empty input but differ in output the whole task is dropped, then exact
    duplicates collapse to one.
    """
    kept: list[Instance] = []
    dropped: list[tuple[Instance, Problem]] = []
    for inst in instances:
        v = check_instance(inst)
        (dropped.append((inst, v)) if v else kept.append(inst))
    by_input: dict[str, str] = {}
    conflict = None
    for inst in kept:
        key = inst.input.strip()
        if not key:
            continue
        if key in by_input and by_input[key] != inst.output.strip():
            conflict = key
            break
        by_input.setdefault(key, inst.output.strip())
    if conflict is not None:
        v = Problem("same_input_different_output", f"the input {conflict[:80]!r} got two different outputs")
        return [], dropped + [(i, v) for i in kept]
    unique: list[Instance] = []
    seen: set[tuple[str, str]] = set()
    for inst in kept:
        key = (inst.input.strip(), inst.output.strip())
        if key in seen:
            dropped.append((inst, Problem("duplicate_instance", "the same input and output twice")))
        else:
            seen.add(key)
            unique.append(inst)
    return unique, dropped


# ----------------------------------------------------------------------------- Evol-Instruct

TEMPLATE_PHRASES: tuple[str, ...] = (
    "#the given prompt#", "#rewritten prompt#", "#given prompt#", "#created prompt#",
    "given prompt", "rewritten prompt", "created prompt",
)

# NLTK's English stop-word list (the usual one), so the rule needs no download.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
    his himself she she's her hers herself it it's its itself they them their theirs themselves what which who
    whom this that that'll these those am is are was were be been being have has had having do does did doing a
    an the and but if or because as until while of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then once here there when
    where why how all any both each few more most other some such no nor not only own same so than too very s t
    can will just don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't
    doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn needn't
    shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split()
)


def copies_template(evolved: str) -> Problem | None:
    low = evolved.lower()
    for phrase in TEMPLATE_PHRASES:
        if phrase in low:
            return Problem("copies_template", f"the evolved instruction contains the template phrase {phrase!r}")
    return None


def only_stopwords(response: str) -> Problem | None:
    words = [w.strip(string.punctuation + "\u2019\u2018\u201c\u201d") for w in response.lower().split()]
    content = [w for w in words if w and w not in STOP_WORDS]
    if not content:
        return Problem("stopwords_only", "the response holds only punctuation and stop words")
    return None


def no_information_gain(parent: str, evolved: str, threshold: float = 0.9) -> Problem | None:
    """The near-duplicate test used when no judge is configured.

    No gain when the evolved text has the same words as its parent, adds no
    word that is not a stop word, or has ROUGE-L F >= threshold with it.
    """
    p_toks, e_toks = tokenize(parent), tokenize(evolved)
    if p_toks == e_toks:
        return Problem("no_information_gain", "the evolved instruction has the same words as its parent")
    new = {t for t in e_toks if t not in STOP_WORDS} - set(p_toks)
    if not new:
        return Problem("no_information_gain", "the evolved instruction adds no new content word to its parent")
    score = rouge_l(parent, evolved)
    if score >= threshold:
        return Problem("no_information_gain", f"ROUGE-L {score:.2f} >= {threshold:g} with its parent")
    return None


def judge_says_equal(answer: str | None) -> Problem | None:
    """Interpret the WizardLM equality judge's answer ("Equal" / "Not Equal")."""
    a = (answer or "").strip().lower()
    if a.startswith("equal"):
        return Problem("no_information_gain", "the judge found the evolved instruction equal to its parent")
    return None


def evol_response_checks(response: str, refusal_max_words: int = 80) -> Problem | None:
    return is_refusal(response, refusal_max_words) or only_stopwords(response)
