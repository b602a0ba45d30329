"""The report of `synthloom simulate`: report.md, report.json, results.jsonl.

Goal rate overall and per scenario attribute (goal, persona, mood, knowledge and every other axis), with
counts and 95% Wilson intervals; end reasons; turns used; where conversations went wrong (the target's
flagged turns by reason); the simulated user's rejected turns; a few conversations in full, failures first.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from ..review.verdicts import wilson_interval
from ..userfiles import atomic_path, ensure_folder
from .redteam_report import clip

SHOWN = 4


def _rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n, ok = len(rows), sum(bool(r["goal_reached"]) for r in rows)
    lo, hi = wilson_interval(ok, n)
    return {"conversations": n, "goal_reached": ok, "goal_rate": ok / n if n else None,
            "ci95": [round(lo, 4), round(hi, 4)] if n else None}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_attr: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        for key, value in r["scenario"].items():
            by_attr[key][str(value)].append(r)
    turns = [r["turns_used"] for r in results]
    return {
        "overall": _rate(results),
        "by_attribute": {k: {v: _rate(rows) for v, rows in sorted(vals.items())} for k, vals in by_attr.items()},
        "end_reasons": dict(Counter(r["end_reason"] for r in results).most_common()),
        "turns_used": {"mean": round(sum(turns) / len(turns), 2) if turns else None,
                       "histogram": dict(sorted(Counter(turns).items()))},
        "went_wrong": dict(Counter(r["went_wrong"]["reason"] for r in results if r["went_wrong"]).most_common()),
        "target_flags": dict(Counter(f["reason"] for r in results for f in r["flags"]).most_common()),
        "user_rejections": dict(Counter(u["reason"] for r in results for u in r["user_rejections"]).most_common()),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def render_markdown(summary: dict[str, Any], results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    o = summary["overall"]
    lines = ["# Simulated conversations", "",
             f"Target: `{info.get('target')}`; simulated user: `{info.get('user')}`; "
             f"system prompt: {info.get('system_prompt') or '(none)'}.", "",
             f"**Goal reached in {o['goal_reached']} of {o['conversations']} conversations "
             f"({_pct(o['goal_rate'])}"
             + (f", 95% CI {_pct(o['ci95'][0])}-{_pct(o['ci95'][1])}" if o["ci95"] else "") + ").**", "",
             "A goal counts as reached when the simulated user says so, the reply it answered has no flag, some "
             "unflagged reply is about the goal (MiniLM cosine), and (when the scenario lists `expect` phrases) some "
             "reply holds one of them.", ""]
    for attr, groups in summary["by_attribute"].items():
        lines += [f"## Goal rate by {attr}", "", f"| {attr} | conversations | reached | rate | 95% CI |",
                  "|---|---:|---:|---:|---|"]
        for value, g in groups.items():
            ci = f"{_pct(g['ci95'][0])}-{_pct(g['ci95'][1])}" if g["ci95"] else ""
            lines.append(f"| {clip(value, 60)} | {g['conversations']} | {g['goal_reached']} | "
                         f"{_pct(g['goal_rate'])} | {ci} |")
        lines.append("")
    lines += ["## How conversations ended", "", "| end reason | conversations |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in summary["end_reasons"].items()]
    tu = summary["turns_used"]
    lines += ["", f"Turns used: mean {tu['mean']}; " + ", ".join(f"{k} turns: {v}" for k, v in tu["histogram"].items()),
              "", "## Where it went wrong", "", "| reason | conversations |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in summary["went_wrong"].items()] or ["| (nowhere) | 0 |"]
    lines += ["", "Target turns flagged: " + (", ".join(f"{k} {v}" for k, v in summary["target_flags"].items())
                                              or "none")]
    lines += ["Simulated user's turns rejected and written again: "
              + (", ".join(f"{k} {v}" for k, v in summary["user_rejections"].items()) or "none"), ""]
    lines += ["## Conversations in full", ""]
    shown = sorted(results, key=lambda r: (r["goal_reached"], r["conversation"]))[:SHOWN]
    for r in shown:
        verdict = "goal reached" if r["goal_reached"] else "goal not reached"
        lines += [f"### {r['conversation'] + 1}: {clip(r['goal'], 80)} ({verdict}, {r['end_reason']}, "
                  f"{r['turns_used']} turns)", ""]
        lines += [f"- scenario: " + "; ".join(f"{k}: {v}" for k, v in r["scenario"].items() if k != "goal"), ""]
        flagged = {f["turn"]: f["reason"] for f in r["flags"]}
        for k, m in enumerate(r["messages"], 1):
            mark = f" **[{flagged[k]}]**" if k in flagged else ""
            lines.append(f"{k}. **{m['role']}**{mark}: {clip(m['content'], 400)}")
        if r.get("closing"):
            lines.append(f"- the user closed ({r['end_reason']}): {clip(r['closing'], 200)}")
        if r["went_wrong"]:
            w = r["went_wrong"]
            lines.append(f"- went wrong at turn {w['turn']}: {w['reason']} ({clip(w['detail'], 160)})")
        lines.append("")
    return "\n".join(lines)


def write_report(results: list[dict[str, Any]], out_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    out = ensure_folder(out_dir, "report folder")
    summary = summarize(results)
    report = {"info": info, "summary": summary}
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    with atomic_path(out / "results.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(summary, results, info), encoding="utf-8")
    return report
