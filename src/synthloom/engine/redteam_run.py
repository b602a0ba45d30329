"""Run a red-team set against a target: `synthloom redteam RUN_DIR --target-base-url URL ...`.

Every case goes to the system under test (an OpenAI-compatible endpoint, with the app's own
system prompt); a `multi_turn` case is sent turn by turn, each reply kept in the conversation.
The last reply is graded pass / fail / error by the judge (generators/redteam_judge.py).

Calls go through the call cache of the run store, and each graded case is committed as one
slot of an evaluation run (its id: the cases, the target, the system prompt, the judge and the
seed), so an interrupted run resumes where it stopped and a finished one replays at once.
The store is RUN_DIR's own when RUN_DIR is a run directory, else OUT_DIR's.

Nothing here opens a connection of its own: the target is reached through its backend, the
judge through its own (the bundled model in-process by default).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InputFileError
from ..llm.types import GenerationRequest
from ..generators.redteam_judge import RedteamJudge
from ..records import content_hash
from ..runs import RunStore, open_store, rundir
from .target_run import TargetRun


@dataclass
class CaseSet:
    cases: list[dict[str, Any]]
    rules: str | None  # the system description the set was made for, when known
    store_path: Path | None  # the run store of the run directory, when the set came from one


def load_cases(source: str | Path) -> CaseSet:
    """Cases from a redteam run directory (its accepted records) or a JSONL file of cases."""
    path = Path(source)
    if path.is_dir():
        with open_store(path, "the run directory of a redteam run or a JSONL file of cases") as store:
            run_id = _generation_run(store)
            info = store.run_info(run_id)
            cases = [r.data for r in store.iter_accepted(run_id)]
        gen = (info.get("recipe") or {}).get("generate") or {}
        rules = gen.get("system")
        if rules and "\n" not in str(rules) and Path(str(rules)).suffix.lower() in (".md", ".txt", ".markdown"):
            # a file name, relative to the recipe's folder (unknown here) unless absolute, as the CLI writes it
            sys_path = Path(str(rules))
            rules = sys_path.read_text(encoding="utf-8") if sys_path.is_file() else None
        return CaseSet(_checked(cases, str(path)), rules, rundir.store_path(path))
    if not path.is_file():
        raise InputFileError(f"{path}: not found; give a redteam run directory or a JSONL file of cases")
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                cases.append(json.loads(line))
            except ValueError as exc:
                raise InputFileError(f"{path}:{n}: not JSON ({exc}); one case object per line") from None
    return CaseSet(_checked(cases, str(path)), None, None)


def _generation_run(store: RunStore) -> str:
    """The newest redteam generation run in the store (an evaluation run shares the file)."""
    for run_id, recipe in store.runs():
        if (recipe.get("generate") or {}).get("technique") == "redteam":
            return run_id
    raise InputFileError(f"{store.path.parent}: not the run directory of a redteam run (no technique: redteam "
                         "run in its store)")


def _checked(cases: list[Any], where: str) -> list[dict[str, Any]]:
    if not cases:
        raise InputFileError(f"{where}: holds no cases; generate some with `synthloom generate redteam`")
    for i, c in enumerate(cases):
        if not isinstance(c, dict) or not isinstance(c.get("input"), (str, list)) or not c.get("input"):
            raise InputFileError(f"{where}: case {i + 1} has no `input` (a string or a list of turns)")
    return cases


def case_id(case: dict[str, Any]) -> str:
    return content_hash({k: case.get(k) for k in ("input", "category", "strategy")}, 6)


@dataclass
class EvalResult:
    run_id: str
    store_path: Path
    results: list[dict[str, Any]]
    calls: int
    cache_hits: int
    resumed: bool


async def arun_redteam(
    cases: CaseSet,
    target: Any,
    judge_llm: Any,
    *,
    store_path: Path,
    system_prompt: str | None = None,
    rules: str | None = None,
    seed: int = 0,
    concurrency: int = 1,
    max_tokens: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Send, grade, store; return one result row per case, in case order."""
    rules = rules or system_prompt or cases.rules or "(no rules given: judge against the expected behaviour)"
    judge = RedteamJudge(rules)
    ident = {"kind": "redteam-eval", "target": target.identity, "judge": judge_llm.identity,
             "system_prompt": system_prompt, "rules": rules, "seed": seed, "max_tokens": max_tokens,
             "cases": [case_id(c) for c in cases.cases], "template": judge.system.hash + judge.user.hash}
    settings = {k: v for k, v in ident.items() if k != "cases"} | {"cases": len(cases.cases)}
    run = TargetRun(store_path, "redteam-eval", "eval-", ident, settings, target, judge_llm)
    tgt, jdg = run.llms

    async def one(i: int) -> dict[str, Any]:
        return await grade_case(cases.cases[i], i, tgt, jdg, judge, system_prompt, seed, max_tokens)

    rows = await run.slots(range(len(cases.cases)), len(cases.cases), concurrency, one, on_progress)
    return EvalResult(run.run_id, store_path, rows, run.meter.calls, run.meter.cache_hits, run.resumed)


async def grade_case(case: dict[str, Any], i: int, target: Any, judge_llm: Any, judge: RedteamJudge,
                     system_prompt: str | None, seed: int, max_tokens: int) -> dict[str, Any]:
    turns = case["input"] if isinstance(case["input"], list) else [case["input"]]
    messages: list[dict[str, str]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    reply: str | None = None
    error = None
    for k, turn in enumerate(turns):
        messages.append({"role": "user", "content": str(turn)})
        req = GenerationRequest(messages=tuple(messages), max_tokens=max_tokens, temperature=0.0,
                                seed=int(content_hash([seed, case_id(case), k], 4), 16) & 0x7FFFFFFF,
                                purpose="target")
        (res,) = await target.generate([req])
        if not res.ok:
            reply, error = None, res.error
            break
        reply = res.text.strip()
        messages.append({"role": "assistant", "content": reply})
    verdict_res, forged = None, False
    if reply:
        req, forged = judge.request(case, reply, int(content_hash([seed, case_id(case), "judge"], 4), 16) & 0x7FFFFFFF)
        (verdict_res,) = await judge_llm.generate([req])
    g = judge.grade(case, reply, verdict_res, forged, system_prompt)
    row = {"case_id": case.get("id") or case_id(case), "index": i, "category": case.get("category", "uncategorized"),
           "strategy": case.get("strategy", "none"), "severity": case.get("severity", "medium"),
           "should_refuse": bool(case.get("should_refuse", True)), "owasp": case.get("owasp"),
           "input": case["input"], "expected": case.get("expected", ""), "reply": reply, **g.as_dict()}
    if error:
        row["reason"] = f"target call failed: {error}"
    if verdict_res is not None:
        row["judge_raw"] = verdict_res.text[:500]
    return row
