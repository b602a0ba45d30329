"""`synthloom calibrate`: how well each scoring gate agrees with the human verdicts.

For every gate that scores (LLM judge, label check, support, and any yes/no
score a gate leaves in `meta.scores`): agreement, Cohen's kappa and the
confusion table of the gate's decision against the reviewers' accept/reject,
and the threshold that would have matched the reviewers best, with how many
of the run's candidates it would have kept. A gate whose agreement is below
`min_agreement` is flagged.

Only candidates that reached a gate carry its score: review rejected
candidates too (`synthloom review RUN_DIR --rejected N`), or a gate that
rejected something can only be checked on what it let through.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from .items import RunItems, gate_signals, load_items
from .session import summarize_verdicts, verdict_rows


def agreement(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """pairs: (gate passed, human accepted). Agreement, Cohen's kappa and the 2x2 confusion table."""
    n = len(pairs)
    tp = sum(1 for g, h in pairs if g and h)
    fp = sum(1 for g, h in pairs if g and not h)
    fn = sum(1 for g, h in pairs if not g and h)
    tn = n - tp - fp - fn
    if n == 0:
        return {"n": 0, "agreement": None, "kappa": None,
                "confusion": {"pass_accept": 0, "pass_reject": 0, "fail_accept": 0, "fail_reject": 0}}
    po = (tp + tn) / n
    pe = ((tp + fp) / n) * ((tp + fn) / n) + ((fn + tn) / n) * ((fp + tn) / n)
    # kappa is undefined when chance agreement is certain (both sides gave one answer only)
    kappa = None if pe >= 1 else (po - pe) / (1 - pe)
    return {"n": n, "agreement": po, "kappa": kappa,
            "confusion": {"pass_accept": tp, "pass_reject": fp, "fail_accept": fn, "fail_reject": tn}}


def best_threshold(scored: Sequence[tuple[float, bool]], candidates: Iterable[float],
                   current: float | None) -> dict[str, Any] | None:
    """The threshold t (pass when score >= t) whose decisions match the humans best.

    Best is the highest Cohen's kappa, not raw agreement: when reviewers reject most records, a
    threshold that keeps nothing agrees often and tells nothing (kappa 0). Ties go to the higher
    agreement, then to the threshold closest to the current one; an undefined kappa counts as 0."""
    best = None
    for t in sorted(set(candidates)):
        a = agreement([(s >= t, h) for s, h in scored])
        key = (0.0 if a["kappa"] is None else a["kappa"], a["agreement"] or 0.0,
               -abs(t - current) if current is not None else 0.0)
        if best is None or key > best[0]:
            best = (key, t, a)
    if best is None:
        return None
    return {"threshold": best[1], "agreement": best[2]["agreement"], "kappa": best[2]["kappa"]}


def _all_signals(items: RunItems) -> dict[str, list[float]]:
    """gate -> scores of every candidate of the run that reached it (accepted and rejected)."""
    out: dict[str, list[float]] = {}
    for r in items.accepted.values():
        for g, s in gate_signals(r.meta, items.recipe).items():
            out.setdefault(g, []).append(s["score"])
    for j in items.rejected.values():
        for g, s in gate_signals(j.meta, items.recipe, j).items():
            out.setdefault(g, []).append(s["score"])
    return out


def calibrate(run_dir: str | Path, min_agreement: float = 0.8, items: RunItems | None = None) -> dict[str, Any]:
    """The calibration of every scoring gate against the human verdicts in the run store."""
    from ..runs import open_store

    items = items or load_items(run_dir)
    with open_store(Path(run_dir)) as store:
        verdicts = store.verdicts(items.run_id)
    rows = list(verdict_rows(items, verdicts))
    population = _all_signals(items)
    gates: dict[str, Any] = {}
    for name in sorted({g for item, _ in rows for g in item["gates"]}):
        sig = [(item["gates"][name], human) for item, human in rows if name in item["gates"]]
        res = agreement([(s["passed"], h) for s, h in sig])
        scale = next((s.get("scale") for s, _ in sig if s.get("scale")), None)
        current = sig[0][0]["threshold"] if sig[0][0]["threshold"] is not None else 1.0
        scored = [(s["score"], h) for s, h in sig]
        if scale:  # a 1-5 judge: every threshold on the scale, and one above it (keep nothing)
            candidates = [float(x) for x in range(int(scale[0]), int(scale[1]) + 2)]
        else:  # a yes/no gate: as is (1) or off (0: keep all)
            candidates = [0.0, 1.0]
        best = best_threshold(scored, candidates, float(current))
        pop = population.get(name, [])
        if best is not None:
            best["kept"] = sum(1 for s in pop if s >= best["threshold"])
            best["kept_reviewed"] = sum(1 for s, _ in scored if s >= best["threshold"])
        res.update({
            "kind": "score" if scale else "yes/no", "threshold": current if scale else None,
            "kept_now": sum(1 for s in pop if s >= current), "candidates": len(pop),
            "best": best, "flagged": res["agreement"] is not None and res["agreement"] < min_agreement,
        })
        gates[name] = res
    human_accepts = sum(1 for _, h in rows if h)
    return {"reviewed": len(rows), "human_accepted": human_accepts, "min_agreement": min_agreement, "gates": gates,
            "note": None if any(i["kind"] == "rejected" for i, _ in rows) else
            "only accepted records were reviewed: each gate is checked on what it let through; "
            "review rejected candidates too (synthloom review RUN_DIR --rejected N)"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def threshold_text(name: str, g: dict[str, Any]) -> str:
    b = g.get("best")
    if not b:
        return "—"
    if g["kind"] == "yes/no":
        what = "as is" if b["threshold"] >= 1 else "off (keep all)"
    elif b["threshold"] > 5:
        what = "keep nothing"
    else:
        what = f">= {b['threshold']:g}"
    return f"{what}: agreement {_pct(b['agreement'])}, keeps {b['kept']} of {g['candidates']}"


def calibration_markdown(cal: dict[str, Any], summary: dict[str, Any] | None = None) -> list[str]:
    """The report's `Human review` section."""
    L = ["## Human review", ""]
    if summary:
        o = summary["overall"]
        if o["reviewed"]:
            L += [f"Reviewers accepted {o['accepted']} of {o['reviewed']} sampled accepted records: precision "
                  f"**{_pct(o['precision'])}** (95% interval {_pct(o['ci95'][0])} - {_pct(o['ci95'][1])})"
                  + (f"; {summary['skipped']} skipped" if summary.get("skipped") else "") + ".", ""]
        rj = summary["rejected"]
        if rj["reviewed"]:
            L += [f"Of {rj['reviewed']} reviewed rejected candidates, reviewers would have kept "
                  f"{rj['kept_by_reviewers']}.", ""]
        if summary["reasons"]:
            L += ["Reasons given for rejecting: " + ", ".join(f"{k} ({v})" for k, v in summary["reasons"].items()) + ".", ""]
    if not cal["gates"]:
        L += ["No reviewed record carries a gate score, so no gate could be calibrated.", ""]
        return L
    L += [f"Gates against {cal['reviewed']} human verdicts (flagged: agreement below {_pct(cal['min_agreement'])}).", ""]
    L += ["| gate | verdicts | agreement | Cohen's kappa | pass & accept | pass & reject | fail & accept | fail & reject "
          "| threshold that matches reviewers best |", "|---|---|---|---|---|---|---|---|---|"]
    for name, g in cal["gates"].items():
        c = g["confusion"]
        flag = " **flagged**" if g["flagged"] else ""
        L.append(f"| {name}{flag} | {g['n']} | {_pct(g['agreement'])} | {_num(g['kappa'])} | {c['pass_accept']} | "
                 f"{c['pass_reject']} | {c['fail_accept']} | {c['fail_reject']} | {threshold_text(name, g)} |")
    L.append("")
    if cal.get("note"):
        L += [f"Note: {cal['note']}.", ""]
    return L


def review_section(run_dir: str | Path, min_agreement: float = 0.8) -> dict[str, Any] | None:
    """The report's human-review data, or None when nobody has reviewed this run yet."""
    from ..runs import open_store

    with open_store(Path(run_dir)) as store:
        if not store.verdicts():
            return None
    items = load_items(run_dir)
    with open_store(Path(run_dir)) as store:
        verdicts = store.verdicts(items.run_id)
    summary = summarize_verdicts(items, verdicts)
    return {"summary": summary, "calibration": calibrate(run_dir, min_agreement, items)}
