"""Model-judged grounding: is an answer supported by its evidence; does a passage answer a question.

Both are constrained yes/no calls (`{"verdict": "yes"|"no"}` under a JSON schema,
greedy), with the quoted text marked as data and a few fixed examples as few-shot
turns (from `qa_examples.json`, overridable in a prompts folder). The `support`
gate wraps the first for any record with question/answer/evidence fields.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest, GenerationResult
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from ..sources.templates import quote
from .base import GateContext, StatelessGate

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
YES_NO_SCHEMA: dict[str, Any] = object_schema({"verdict": {"type": "string", "enum": ["yes", "no"]}})


@lru_cache(maxsize=4)
def load_qa_examples(extra_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """Few-shot turns from `qa_examples.json` (SYNTHLOOM_PROMPTS_DIR folders first, then the package's)."""
    dirs = [*extra_dirs, *filter(None, os.environ.get("SYNTHLOOM_PROMPTS_DIR", "").split(os.pathsep)),
            str(PROMPTS_DIR)]
    for d in dirs:
        p = Path(d) / "qa_examples.json"
        if p.is_file():
            from ..userfiles import read_data

            return read_data(p, "few-shot examples file")
    return {}


def verdict_request(messages: Sequence[Mapping[str, str]], seed: int) -> GenerationRequest:
    """A constrained yes/no judge call: greedy, tiny, schema-bound."""
    return GenerationRequest(messages=tuple(messages), json_schema=YES_NO_SCHEMA, max_tokens=16, temperature=0.0,
                             top_p=1.0, seed=seed, purpose="judge")


def verdict_of(result: GenerationResult) -> str | None:
    """'yes', 'no', or None when the judge's answer is unusable."""
    verdict = (result.parsed_object or {}).get("verdict")
    return verdict if verdict in ("yes", "no") else None


def support_messages(question: str, answer: str, evidence: Sequence[str]) -> list[dict[str, str]]:
    """Is `answer` to `question` stated by `evidence`? (system, few-shot turns, the case)."""
    system, user_t = load_prompt("qa_judge_support_system"), load_prompt("qa_judge_support_user")

    def user(ev: Sequence[str], q: str, a: str) -> str:
        return user_t.render(evidence=quote("\n".join(f"- {e}" for e in ev), "evidence"), question=q, answer=a)

    msgs = [{"role": "system", "content": system.render()}]
    for ex in load_qa_examples().get("support", []):
        msgs += [{"role": "user", "content": user(ex["evidence"], ex["question"], ex["answer"])},
                 {"role": "assistant", "content": json.dumps({"verdict": ex["verdict"]})}]
    msgs.append({"role": "user", "content": user(evidence, question, answer)})
    return msgs


def answerable_messages(passage: str, question: str) -> list[dict[str, str]]:
    """Does `passage` state the answer to `question`?"""
    system, user_t = load_prompt("qa_judge_answerable_system"), load_prompt("qa_judge_answerable_user")

    def user(p: str, q: str) -> str:
        return user_t.render(passage=quote(p, "passage"), question=q)

    msgs = [{"role": "system", "content": system.render()}]
    for ex in load_qa_examples().get("answerable", []):
        msgs += [{"role": "user", "content": user(ex["passage"], ex["question"])},
                 {"role": "assistant", "content": json.dumps({"verdict": ex["verdict"]})}]
    msgs.append({"role": "user", "content": user(passage, question)})
    return msgs


class SupportGate(StatelessGate):
    """`support`: the judge model says the evidence supports the answer (constrained yes/no)."""

    name = "support"
    stage = "judge"

    def __init__(self, *, question: str = "question", answer: str = "answer", evidence: str = "evidence",
                 skip_kinds: Sequence[str] = ("unanswerable",)) -> None:
        self.question, self.answer, self.evidence = question, answer, evidence
        self.skip_kinds = set(skip_kinds)

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        if rec.data.get("kind") in self.skip_kinds:
            return rec
        if ctx.llm is None:
            return Rejection.of(rec, self.stage, "judge_unavailable", "no judge model configured")
        q, a, ev = rec.data.get(self.question), rec.data.get(self.answer), rec.data.get(self.evidence)
        if not isinstance(q, str) or not isinstance(a, str):
            return Rejection.of(rec, self.stage, "missing_fields", f"needs string fields {self.question!r}, {self.answer!r}")
        evidence = [ev] if isinstance(ev, str) else list(ev or [])
        if not evidence:
            return Rejection.of(rec, self.stage, "unsupported", "no evidence to support the answer")
        seed = int(rec.id[:8], 16) ^ ctx.seed
        (res,) = await ctx.llm.generate([verdict_request(support_messages(q, a, evidence), seed)])
        v = verdict_of(res)
        if v is None:
            return Rejection.of(rec, self.stage, "judge_unusable", f"judge answer not yes/no: {res.text[:80]!r}")
        if v == "no":
            return Rejection.of(rec, self.stage, "unsupported", "the judge found the answer not supported by the evidence")
        return rec.with_scores(support="yes")


def build(config: Any, base_dir: Any) -> StatelessGate:
    """quality.GATES entry for `gate: support` (config.documents.SupportGateConfig)."""
    return SupportGate(question=config.question, answer=config.answer, evidence=config.evidence,
                       skip_kinds=config.skip_kinds)
