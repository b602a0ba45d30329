"""LLM-as-judge: a rubric, a 1-5 score and a one-sentence rationale as constrained JSON.

The score and rationale go into the record's lineage (`meta.scores.judge`,
`meta.judge`); records scoring below the threshold are rejected with reason
`low_score`; a verdict that cannot be read is rejected as `judge_error`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from ._llm import LLMGateMixin, show
from .base import GateContext, StatelessGate

DEFAULT_RUBRIC = """5 = realistic, coherent and complete; does what the task asks; no errors, filler or placeholders.
4 = good, with one minor flaw.
3 = usable but bland, generic or slightly off the task.
2 = a major flaw: incoherent, wrong facts, off the task, or placeholder text.
1 = unusable: empty, gibberish, a refusal, or a copy of the instructions."""

VERDICT_SCHEMA = object_schema({
    "rationale": {"type": "string", "minLength": 3, "maxLength": 240},
    "score": {"type": "integer", "minimum": 1, "maximum": 5},
})

GOOD_VERDICT = {"rationale": "Specific, coherent and complete: it does what the task asks.", "score": 5}
PLACEHOLDER_VERDICT = {"rationale": "Placeholder text with no real content.", "score": 1}


def _placeholder(value: Any) -> Any:
    """The same record with every text replaced by filler: the bottom of the scale, in the user's own shape."""
    if isinstance(value, dict):
        return {k: _placeholder(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder(v) for v in value[:1]]
    return "Lorem ipsum." if isinstance(value, str) else value


def worked_verdicts(examples: tuple[Any, ...]) -> list[tuple[Any, dict[str, Any]]]:
    """Two worked verdicts from the user's own examples (one of them as it is, scored 5, and the same with
    its text replaced by filler, scored 1): they show a base model the format and both ends of the scale
    on the user's task. No examples: no worked verdicts (never another domain's text)."""
    if not examples:
        return []
    return [(examples[0], GOOD_VERDICT), (_placeholder(examples[0]), PLACEHOLDER_VERDICT)]


class JudgeGate(LLMGateMixin, StatelessGate):
    name = "judge"
    stage = "judge"

    def __init__(self, *, rubric: str | None = None, criteria: list[str] = (), threshold: int = 3,
                 fields: list[str] | None = None, model: Any = None, max_tokens: int = 160,
                 temperature: float = 0.0, task: str | None = None, few_shot: bool = True) -> None:
        self.rubric = rubric or DEFAULT_RUBRIC
        self.criteria = list(criteria)
        self.threshold = threshold
        self.fields = fields
        self.own_model = model
        self.max_tokens, self.temperature = max_tokens, temperature
        self.task = task
        self.system = load_prompt("judge_system")
        self.user = load_prompt("judge_user")
        self._system_text = self.system.render(rubric=self.rubric, criteria=self.criteria)
        self.few_shot = few_shot


    def request(self, rec: Record, ctx: GateContext) -> GenerationRequest:
        messages = [{"role": "system", "content": self._system_text}]
        task = self.task or ctx.task
        if self.few_shot:
            for data, verdict in worked_verdicts(ctx.examples):
                messages.append({"role": "user", "content": self.user.render(task=task, record=show(data, self.fields))})
                messages.append({"role": "assistant", "content": json.dumps(verdict)})
        messages.append({"role": "user", "content": self.user.render(task=task, record=show(rec.data, self.fields))})
        return GenerationRequest(messages=tuple(messages), json_schema=VERDICT_SCHEMA, max_tokens=self.max_tokens,
                                 temperature=self.temperature, seed=self.seed_for(rec, ctx, "judge"), purpose="judge")

    async def check(self, rec: Record, ctx: GateContext) -> Record | Rejection:
        res = await self.call(ctx, self.request(rec, ctx))
        verdict = res.parsed_object
        score = verdict.get("score") if verdict else None
        if isinstance(score, str) and score.strip().isdigit():
            score = int(score.strip())
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            why = res.error or f"no score 1-5 in the judge's reply: {res.text[:120]!r}"
            return Rejection.of(rec, "judge", "judge_error", why)
        rationale = str(verdict.get("rationale", "")).strip()
        out = rec.with_scores(judge=score).with_meta(
            judge={"score": score, "rationale": rationale, "model": res.model, "template": self.system.name,
                   "template_hash": self.system.hash}
        )
        if score < self.threshold:
            return Rejection.of(out, "judge", "low_score", f"scored {score}/5 (threshold {self.threshold}): {rationale}")
        return out


def build(config: Any, base_dir: Path) -> JudgeGate:
    """quality.GATES entry for `gate: judge`."""
    return JudgeGate(rubric=config.rubric, criteria=config.criteria, threshold=config.threshold, fields=config.fields,
                     model=config.model, max_tokens=config.max_tokens, temperature=config.temperature)
