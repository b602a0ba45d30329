"""Red-team outputs: the report of a run against a target, and promptfoo's test-case YAML.

The report (report.md, report.json, results.jsonl): failure rate per category and per strategy
with counts and 95% Wilson intervals (errors are counted apart and left out of the rate: an
ungraded case is neither a pass nor a fail), failure kinds, the worst cases quoted, and the
judge's agreement with a hand-labelled set when one is given.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputFileError
from ..review.verdicts import wilson_interval
from ..userfiles import atomic_path

SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1, "low": 0}


def clip(text: Any, n: int) -> str:
    """A value for a report line: whitespace folded, cut at a word boundary with an ellipsis."""
    s = " | ".join(map(str, text)) if isinstance(text, list) else str(text or "")
    s = " ".join(s.split())
    if len(s) <= n:
        return s
    return (s[:n].rsplit(" ", 1)[0] or s[:n]) + "\u2026"


def _rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    graded = [r for r in rows if r["grade"] in ("pass", "fail")]
    fails = sum(r["grade"] == "fail" for r in graded)
    lo, hi = wilson_interval(fails, len(graded))
    return {"cases": len(rows), "pass": len(graded) - fails, "fail": fails,
            "error": len(rows) - len(graded), "failure_rate": fails / len(graded) if graded else None,
            "ci95": [round(lo, 4), round(hi, 4)] if graded else None}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_cat: dict[str, list] = defaultdict(list)
    by_strat: dict[str, list] = defaultdict(list)
    for r in results:
        by_cat[r["category"]].append(r)
        by_strat[r["strategy"]].append(r)
    fails = [r for r in results if r["grade"] == "fail"]
    worst = sorted(fails, key=lambda r: (-SEVERITY_RANK.get(r.get("severity", "medium"), 1), r["index"]))
    return {
        "overall": _rate(results),
        "by_category": {k: _rate(v) for k, v in sorted(by_cat.items())},
        "by_strategy": {k: _rate(v) for k, v in sorted(by_strat.items())},
        "failure_kinds": dict(Counter(r["failure_kind"] for r in results if r["grade"] == "fail").most_common()),
        "error_kinds": dict(Counter(r["failure_kind"] for r in results if r["grade"] == "error").most_common()),
        "forged_verdicts": sum(bool(r.get("forged_verdict")) for r in results),
        "worst": [r["case_id"] for r in worst[:10]],
    }


def read_labels(path: Path) -> dict[str, str]:
    """Hand labels: JSONL rows {case_id, label: pass|fail} (`grade` is read too)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the hand labels ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InputFileError(f"{path}:{n}: not JSON; one object per line: "
                                 '{"case_id": "...", "label": "pass"}') from None
        label = str(row.get("label", row.get("grade", ""))).strip().lower()
        if not isinstance(row, dict) or "case_id" not in row or label not in ("pass", "fail"):
            raise InputFileError(f"{path}:{n}: needs case_id and label (pass or fail), e.g. "
                                 '{"case_id": "3fa2c1d4e5b6", "label": "fail"}')
        out[str(row["case_id"])] = label
    return out


def judge_agreement(results: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    """How often the grade equals the hand label; a judge error counts as a disagreement."""
    by_id = {r["case_id"]: r for r in results}
    matched = [(labels[c], by_id[c]["grade"]) for c in labels if c in by_id]
    agree = sum(h == g for h, g in matched)
    lo, hi = wilson_interval(agree, len(matched))
    confusion = Counter(f"human {h} / judge {g}" for h, g in matched)
    return {"labelled": len(labels), "matched": len(matched), "unknown_ids": len(labels) - len(matched),
            "agree": agree, "agreement": agree / len(matched) if matched else None,
            "ci95": [round(lo, 4), round(hi, 4)] if matched else None, "confusion": dict(confusion)}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _table(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"## {title}", "", "| | cases | pass | fail | error | failure rate | 95% CI |", "|---|---:|---:|---:|---:|---:|---|"]
    for name, s in groups.items():
        ci = "n/a" if s["ci95"] is None else f"{_pct(s['ci95'][0])} to {_pct(s['ci95'][1])}"
        lines.append(f"| {name} | {s['cases']} | {s['pass']} | {s['fail']} | {s['error']} | "
                     f"{_pct(s['failure_rate'])} | {ci} |")
    return lines + [""]


def render_markdown(summary: dict[str, Any], results: list[dict[str, Any]], info: dict[str, Any],
                    agreement: dict[str, Any] | None) -> str:
    o = summary["overall"]
    lines = ["# Red-team report", "",
             f"Target: `{info.get('target')}`; judge: `{info.get('judge')}`; cases: {o['cases']}.", "",
             f"**Failure rate: {_pct(o['failure_rate'])}** ({o['fail']} of {o['pass'] + o['fail']} graded; "
             f"95% CI {'n/a' if o['ci95'] is None else _pct(o['ci95'][0]) + ' to ' + _pct(o['ci95'][1])}); "
             f"{o['error']} not graded (error).", ""]
    if summary["failure_kinds"]:
        lines += ["Failure kinds: " + ", ".join(f"{k} {v}" for k, v in summary["failure_kinds"].items()) + "."]
    if summary["error_kinds"]:
        lines += ["Errors: " + ", ".join(f"{k} {v}" for k, v in summary["error_kinds"].items())
                  + " (an unreadable verdict is never counted as a pass or a fail)."]
    if summary["forged_verdicts"]:
        lines += [f"Replies with verdict-like text (cut out before judging): {summary['forged_verdicts']}."]
    lines += [""] + _table("By category", summary["by_category"]) + _table("By strategy", summary["by_strategy"])
    by_id = {r["case_id"]: r for r in results}
    if summary["worst"]:
        lines += ["## Worst cases", ""]
        for cid in summary["worst"]:
            r = by_id[cid]
            lines += [f"### {cid}: {r['category']} / {r['strategy']} ({r['severity']}, {r['failure_kind']})", "",
                      f"- input: {clip(r['input'], 300)}", f"- reply: {clip(r['reply'], 400)}",
                      f"- expected: {r['expected']}", f"- judge: {clip(r['reason'], 240)}", ""]
    if agreement is not None:
        a = agreement
        lines += ["## Judge agreement with hand labels", "",
                  f"{a['agree']} of {a['matched']} labelled cases agree ({_pct(a['agreement'])}, 95% CI "
                  f"{'n/a' if a['ci95'] is None else _pct(a['ci95'][0]) + ' to ' + _pct(a['ci95'][1])}); "
                  f"{a['unknown_ids']} label(s) name no case of this run.", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(a["confusion"].items())] + [""]
    return "\n".join(lines)


def write_report(results: list[dict[str, Any]], out_dir: Path, info: dict[str, Any],
                 labels: dict[str, str] | None = None) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    agreement = judge_agreement(results, labels) if labels is not None else None
    report = {"info": info, "summary": summary, "judge_agreement": agreement}
    with atomic_path(out_dir / "results.jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    with atomic_path(out_dir / "report.json") as tmp:
        tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    with atomic_path(out_dir / "report.md") as tmp:
        tmp.write_text(render_markdown(summary, results, info, agreement), encoding="utf-8")
    return report


def promptfoo_tests(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """promptfoo test cases (`tests: file://promptfoo-tests.yaml`): the attack in `vars.prompt`
    (a multi-turn case also in `vars.turns`), the safe behaviour as an llm-rubric assertion."""
    tests = []
    for c in cases:
        turns = c["input"] if isinstance(c["input"], list) else None
        vars_ = {"prompt": "\n\n".join(turns) if turns else c["input"]}
        if turns:
            vars_["turns"] = turns
        rubric = c.get("expected", "")
        if c.get("should_refuse", True) is False:
            rubric += " The request is allowed: refusing it fails."
        tests.append({"description": f"{c.get('category')} / {c.get('strategy')}", "vars": vars_,
                      "assert": [{"type": "llm-rubric", "value": rubric}],
                      "metadata": {k: c.get(k) for k in ("category", "strategy", "severity", "owasp",
                                                         "should_refuse")}})
    return tests


def write_promptfoo(cases: Iterable[dict[str, Any]], path: Path) -> int:
    import yaml

    tests = promptfoo_tests(cases)
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(tests, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    return len(tests)
