"""Preference data (`technique: preference`): for DPO, ORPO and KTO.

One slot takes one prompt (from a prompt file or another run's instructions, each in turn) and:

1. writes one response per strategy (`responses:`): each strategy its own model, temperature and prompt
   (the prompt file's answers as worked examples, the prompt alone, or a deliberately weaker prompt whose
   worked examples are cut to their first words);
2. scores each response: the judge rates it alone, in its own call, on each aspect (UltraFeedback's by
   default) with a rationale, so no response is ever shown next to another and its position cannot sway
   the judge; the judge-free signals (relevance against the run's other prompts, completeness, fluency);
   an optional reward model. A response's score is the weighted sum of those parts (`weights:`);
3. forms (chosen, rejected) pairs by the recipe's rule (`preference_pairs.py`); a tie, a gap under the
   margin, two equal texts or too few scored responses become a rejection at stage `pair` with its reason.

A record is one pair: `{prompt, chosen, rejected, score_chosen, score_rejected}`; its lineage (`meta`) holds
every response of the prompt with its ratings, rationales, signals and reward (what the UltraFeedback-style
export writes), the strategies of chosen and rejected, and whether signals (and reward) agree with the
ranking.
"""
from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.preference import PreferenceTechnique
from ..errors import InputFileError
from ..llm.jsontext import object_schema
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import Record, Rejection
from .base import GenContext, Generator
from .instruct_steps import call_failure, description
from .preference_pairs import Scored, combine, form_pairs, judge_score, signals_score

RESPONSE_SCHEMA = object_schema({"output": {"type": "string", "minLength": 1}})
ASPECT_TEXT = {
    "helpfulness": "does the response give useful, relevant and complete information for the instruction?",
    "honesty": "does the response state only what it can support, and say so when it is unsure?",
    "instruction_following": "does the response do what the instruction asks, in the form it asks for?",
    "truthfulness": "is the response free of false facts, contradictions and invented details?",
}
WEAK_WORDS = 5  # a weak strategy's worked examples keep this many words
GOOD_RATIONALE = "It answers the instruction directly, correctly and completely."
OTHER_RATIONALE = "It answers a different instruction, not this one."
CUT_RATIONALE = "It stops after a few words and does not answer the instruction."
FLUENCY_SCALE = 1000.0  # perplexity 1 -> fluency 1.0, 10 -> 0.67, 100 -> 0.33, >= 1000 -> 0
LOOP_SHARE = 0.3  # share of a response's word 3-grams that repeat earlier ones: above it, fluency 0


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    output: str = ""


def verdict_schema(aspects: list[str]) -> dict[str, Any]:
    one = object_schema({"rationale": {"type": "string", "minLength": 3, "maxLength": 160},
                         "rating": {"type": "integer", "minimum": 1, "maximum": 5}})
    return object_schema({a: one for a in aspects})


def _cut(text: str, words: int = WEAK_WORDS) -> str:
    return " ".join(text.split()[:words])


def load_prompts(config: PreferenceTechnique, base_dir: Path) -> list[Prompt]:
    if config.prompts is not None:
        from .instruct_seeds import load_seed_tasks

        tasks = load_seed_tasks(config.prompts, base_dir, need_output=False)
        return [Prompt(t.id, t.instruction + (f"\n\n{t.input}" if t.input.strip() else ""), t.output.strip())
                for t in tasks]
    return _run_prompts(config.from_run, base_dir)  # type: ignore[arg-type]


def _run_prompts(path: str, base_dir: Path) -> list[Prompt]:
    """Another run's accepted records (its store, else its data.jsonl) as prompts with their responses."""
    from ..quality.pairs import PairFields
    from ..runs import rundir
    from ..runs.writers import read_jsonl

    p = Path(path) if Path(path).is_absolute() else base_dir / path
    where = f"generate.from_run: {p}"
    if p.is_dir() and rundir.has_store(p):
        with rundir.open_store(p) as store:
            rows = [r.data for r in store.iter_accepted(store.latest_run_id())]
    elif p.is_file() or (p / rundir.DATA_FILE).is_file():
        rows = list(read_jsonl(p if p.is_file() else p / rundir.DATA_FILE))
    else:
        raise InputFileError(f"{where}: no run here (no {rundir.STORE_FILE} or {rundir.DATA_FILE}); give the folder "
                             "another run wrote with -o, or its data file")
    pair, out = PairFields(), []
    for i, row in enumerate(rows):
        text = pair.instruction_text(row, required=False) if isinstance(row, dict) else None
        if not text or not text.strip():
            raise InputFileError(f"{where}: record {i + 1} has no instruction field (instruction, prompt, question "
                                 "or query); give a run of an instruction technique")
        out.append(Prompt(f"run-{i}", text.strip(), (pair.response_text(row, required=False) or "").strip()))
    if not out:
        raise InputFileError(f"{where}: the run has no accepted records; generate some first")
    return out


class PreferenceGenerator(Generator):
    technique = "preference"

    def __init__(self, config: PreferenceTechnique, base_dir: Path) -> None:
        self.config = config
        self.prompts = load_prompts(config, base_dir)
        self.examples = [p for p in self.prompts if p.output]
        self.p_response = load_prompt("preference_response")
        self.p_judge, self.p_judge_user = load_prompt("preference_judge_system"), load_prompt("preference_judge_user")
        self._templates = (self.p_response, self.p_judge, self.p_judge_user)
        j = config.judge
        if j is not None:
            aspects = [(a, j.descriptions.get(a) or ASPECT_TEXT[a]) for a in j.aspects]
            self._judge_system = self.p_judge.render(aspects=aspects)
            self._verdict_schema = verdict_schema(j.aspects)
        self._reward = None
        if config.reward is not None:
            from .preference_reward import RewardScorer

            self._reward = RewardScorer(config.reward)
        self._embedder: Any = None
        self._lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        c = self.config
        return description(self.technique, self._templates, len(self.prompts), settings={
            "responses": [s.model_dump(exclude_none=True) for s in c.responses],
            "judge": None if c.judge is None else {"aspects": c.judge.aspects, "mode": "independent"},
            "signals": c.signals, "reward": None if c.reward is None else (c.reward.url or c.reward.function),
            "weights": dict(c.weights), "pairs": c.pairs, "margin": c.margin})

    def shown_records(self) -> tuple[Any, ...]:
        return tuple({"prompt": p.text, "chosen": p.output} for p in self.examples[:2])

    # ----------------------------------------------------------------- requests
    def _shots(self, prompt: Prompt, slot: int, ctx: GenContext) -> list[Prompt]:
        others = [p for p in self.examples if p.text != prompt.text]
        rng = ctx.rng(slot, "shots")
        return rng.sample(others, min(self.config.shots, len(others)))

    def response_request(self, prompt: Prompt, k: int, slot: int, ctx: GenContext) -> GenerationRequest:
        s = self.config.responses[k]
        messages = [{"role": "system", "content": self.p_response.render()}]
        if s.prompt != "zero_shot":
            for shot in self._shots(prompt, slot, ctx):
                out = _cut(shot.output) if s.prompt == "weak" else shot.output
                messages.append({"role": "user", "content": shot.text})
                messages.append({"role": "assistant", "content": json.dumps({"output": out}, ensure_ascii=False)})
        messages.append({"role": "user", "content": prompt.text})
        return GenerationRequest(messages=tuple(messages), json_schema=RESPONSE_SCHEMA, max_tokens=s.max_tokens,
                                 temperature=s.temperature, top_p=s.top_p, seed=ctx.request_seed(slot, k),
                                 purpose=f"preference:response:{s.name}")

    def judge_request(self, prompt: Prompt, response: str, k: int, slot: int, ctx: GenContext) -> GenerationRequest:
        j = self.config.judge
        messages = [{"role": "system", "content": self._judge_system}]
        if j.few_shot:  # type: ignore[union-attr]
            messages += self._worked_verdicts(prompt, k, slot, ctx)
        messages.append({"role": "user", "content": self.p_judge_user.render(prompt=prompt.text, response=response)})
        return GenerationRequest(messages=tuple(messages), json_schema=self._verdict_schema, max_tokens=j.max_tokens,  # type: ignore[union-attr]
                                 temperature=0.0, seed=ctx.request_seed(slot, 100 + k), purpose="preference:judge")

    def _worked_verdicts(self, prompt: Prompt, k: int, slot: int, ctx: GenContext) -> list[dict[str, str]]:
        """Worked verdicts from the prompt file's own answers, in a seeded order (so that no rating is always the
        last one shown): an answer rated 5, another prompt's answer rated 2, an answer cut to three words rated 1."""
        shots = self._shots(prompt, slot, ctx)
        if not shots:
            return []
        shot, other = shots[0], (shots[1] if len(shots) > 1 else None)
        cases = [(shot.text, shot.output, 5, GOOD_RATIONALE), (shot.text, _cut(shot.output, 3), 1, CUT_RATIONALE)]
        if other is not None:
            cases.append((shot.text, other.output, 2, OTHER_RATIONALE))
        ctx.rng(slot, f"verdicts:{k}").shuffle(cases)
        messages = []
        for text, answer, rating, why in cases:
            messages.append({"role": "user", "content": self.p_judge_user.render(prompt=text, response=answer)})
            verdict = {a: {"rationale": why, "rating": rating} for a in self.config.judge.aspects}  # type: ignore[union-attr]
            messages.append({"role": "assistant", "content": json.dumps(verdict)})
        return messages

    # ----------------------------------------------------------------- scoring
    async def _respond(self, prompt: Prompt, slot: int, ctx: GenContext) -> list[dict[str, Any]]:
        async def one(k: int) -> dict[str, Any]:
            s = self.config.responses[k]
            (res,) = await ctx.model(s.model).generate([self.response_request(prompt, k, slot, ctx)])
            entry: dict[str, Any] = {"strategy": s.name, "prompt": s.prompt, "temperature": s.temperature,
                                     "model": res.model}
            fail = call_failure(res, f"{s.name} response", {})
            text = "" if fail else str(res.parsed_object.get("output", "")).strip()
            if fail or not text:
                entry["dropped"] = fail.reason if fail else "empty"
            entry["text"] = text or res.text
            return entry
        return list(await asyncio.gather(*(one(k) for k in range(len(self.config.responses)))))

    async def _judge(self, prompt: Prompt, entries: list[dict[str, Any]], slot: int, ctx: GenContext) -> None:
        j = self.config.judge
        if j is None:
            return
        live = [(k, e) for k, e in enumerate(entries) if "dropped" not in e]
        results = await ctx.model(j.model).generate([self.judge_request(prompt, e["text"], k, slot, ctx)
                                                     for k, e in live])
        for (_k, e), res in zip(live, results):
            verdict = res.parsed_object or {}
            ratings: dict[str, Any] = {}
            for a in j.aspects:
                v = verdict.get(a) if isinstance(verdict.get(a), dict) else {}
                r = v.get("rating")
                ratings[a] = {"rating": r if isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 5 else None,
                              "rationale": str(v.get("rationale", "")).strip()}
            e["ratings"] = ratings
            e["judge"] = judge_score({a: r["rating"] for a, r in ratings.items()})
            if e["judge"] is None:
                e["judge_error"] = res.error or f"no rating for every aspect in {res.text[:120]!r}"

    def _signals_sync(self, prompt: Prompt, entries: list[dict[str, Any]]) -> None:
        live = [e for e in entries if "dropped" not in e]
        sig: list[dict[str, float | None]] = [{} for _ in live]
        if "completeness" in self.config.signals:
            from ..quality.completeness import check_completeness

            for d, e in zip(sig, live):
                d["completeness"] = round(check_completeness(e["text"]).score, 4)
        if "relevance" in self.config.signals and live:
            from ..quality.embeddings import make_embedder
            from ..quality.relevance import relevance_scores

            if self._embedder is None:
                self._embedder = make_embedder()
            others = [p.text for p in self.prompts if p.text != prompt.text]
            scores, _cos = relevance_scores([prompt.text] * len(live), [e["text"] for e in live], self._embedder,
                                            reference=others)
            for d, s in zip(sig, scores):
                d["relevance"] = None if math.isnan(s) else round(float(s), 4)
        if "fluency" in self.config.signals:
            from ..quality.fluency import fluency_scorer

            from ..quality.filter import repeated_ngram_rate

            scorer = fluency_scorer(None)
            for d, e in zip(sig, live):
                p = scorer.score(e["text"])
                d["perplexity"] = round(p.perplexity, 3) if p.tokens else None
                d["fluency"] = (None if not p.tokens else
                                round(max(0.0, 1 - math.log(max(p.perplexity, 1.0)) / math.log(FLUENCY_SCALE)), 4))
                # a loop has the lowest perplexity of all (each repeat is easy to predict): a text more than
                # LOOP_SHARE of whose word 3-grams repeat earlier ones is not fluent, whatever its perplexity
                share = repeated_ngram_rate(e["text"])
                if share > LOOP_SHARE and d["fluency"] is not None:
                    d["repeats"] = round(share, 3)
                    d["fluency"] = 0.0
        for d, e in zip(sig, live):
            e["signals"] = d
            e["signals_score"] = signals_score({k: v for k, v in d.items() if k not in ("perplexity", "repeats")})

    async def _score(self, prompt: Prompt, entries: list[dict[str, Any]], slot: int, ctx: GenContext) -> None:
        await self._judge(prompt, entries, slot, ctx)
        if self.config.signals:
            async with self._lock:  # one embedder and one fluency context, used by one slot at a time
                await asyncio.to_thread(self._signals_sync, prompt, entries)
        if self._reward is not None:
            for e in entries:
                if "dropped" not in e:
                    e["reward"] = await self._reward.score(prompt.text, e["text"])
        for e in entries:
            if "dropped" in e:
                e["score"] = None
                continue
            parts = {"judge": e.get("judge"), "signals": e.get("signals_score"), "reward": e.get("reward")}
            e["score"] = combine(parts, self.config.weights)

    # ----------------------------------------------------------------- the slot
    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        prompt = ctx.balanced(slot, "prompt", self.prompts)
        entries = await self._respond(prompt, slot, ctx)
        meta: dict[str, Any] = {"technique": self.technique, "prompt_id": prompt.id, "model": entries[0]["model"],
                                "template": self.p_response.name,
                                "template_hash": "".join(p.hash for p in self._templates), "slot": slot,
                                "rule": self.config.pairs}
        if sum("dropped" not in e for e in entries) < 2:
            why = "; ".join(f"{e['strategy']}: {e['dropped']}" for e in entries if "dropped" in e)
            return [Rejection(stage="pair", reason="too_few_responses", detail=f"fewer than two usable responses ({why})",
                              data={"prompt": prompt.text}, meta={**meta, "responses": entries})]
        await self._score(prompt, entries, slot, ctx)
        meta["responses"] = entries
        scored = [Scored(k, e["strategy"], e["text"], e["score"],
                         {"judge": e.get("judge"), "signals": e.get("signals_score"), "reward": e.get("reward")})
                  for k, e in enumerate(entries) if "dropped" not in e]
        pairs, dropped = form_pairs(scored, self.config.pairs, self.config.margin, ctx.rng(slot, "pairs"))
        out: list[Record | Rejection] = []
        for p in pairs:
            data = {"prompt": prompt.text, "chosen": p.chosen.text, "rejected": p.rejected.text,
                    "score_chosen": p.chosen.score, "score_rejected": p.rejected.score}
            agree = {part: p.agrees(part) for part in self._cross_checks()}
            out.append(Record(data=data, meta={**meta, "margin": round(p.margin, 6), "chosen_strategy": p.chosen.strategy,
                                               "rejected_strategy": p.rejected.strategy, "agreement": agree}))
        for d in dropped:
            data = {"prompt": prompt.text}
            if d.pair is not None:
                data.update(chosen=d.pair.chosen.text, rejected=d.pair.rejected.text,
                            score_chosen=d.pair.chosen.score, score_rejected=d.pair.rejected.score)
            out.append(Rejection(stage="pair", reason=d.reason, detail=d.detail, data=data, meta=meta))
        return out

    def _cross_checks(self) -> list[str]:
        """The parts a pair's ranking is checked against: every part the recipe has, except the one the score is
        made of alone (it agrees by construction)."""
        c = self.config
        have = [k for k, on in (("judge", c.judge is not None), ("signals", bool(c.signals)),
                                ("reward", c.reward is not None)) if on]
        used = {k for k, w in c.weights.items() if w}
        return [k for k in have if not (len(used) == 1 and k in used)]


def build(config: PreferenceTechnique, base_dir: Path) -> PreferenceGenerator:
    return PreferenceGenerator(config, base_dir)


__all__ = ["PreferenceGenerator", "build", "load_prompts"]
