"""The report's planned-variety section: each sampler's target next to what was tried and what was accepted.

The target comes from the manifest (`generator.variety`, written by generators/variety.py: weights,
planned personas and topic leaves, a number's quantiles); what was tried is one value per slot that
made a candidate (accepted or rejected); what was accepted is the accepted records' lineage. A gate
that rejects one value more than the others shows as accepted share < tried share; values never
accepted (a topic leaf never reached) are listed.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ..records import Record, Rejection

FEW = 12  # a sampler with no target and at most this many distinct values gets a table of its counts


def _key(value: Any, cfg: dict[str, Any]) -> str | None:
    if cfg.get("stratify"):  # rows: the stratum of the (first) row
        row = value[0] if isinstance(value, list) and value else value
        return str(row.get(cfg["stratify"])) if isinstance(row, dict) else None
    if isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    n = len(values)

    def q(p: float) -> float:
        return values[min(n - 1, max(0, round(p * (n - 1))))]
    return {"p10": round(q(0.1), 4), "p50": round(q(0.5), 4), "p90": round(q(0.9), 4),
            "mean": round(sum(values) / n, 4)}


def variety_section(records: list[Record], rejections: list[Rejection], generator: dict[str, Any]) -> dict[str, Any]:
    """{sampler: {kind, values: {v: {target, tried, accepted...}}, missing, quantiles}} for the report."""
    planned = generator.get("variety") or {}
    if not planned:
        return {}
    tried: dict[int, dict[str, Any]] = {}
    for item in [*rejections, *records]:
        attrs, slot = item.meta.get("attributes"), item.meta.get("slot")
        if isinstance(attrs, dict) and isinstance(slot, int):
            tried[slot] = attrs
    accepted = [r.meta.get("attributes") or {} for r in records]
    out: dict[str, Any] = {}
    for name, cfg in planned.items():
        info: dict[str, Any] = {"kind": cfg.get("kind")}
        if cfg.get("quantiles"):  # a number sampler
            nums = [float(a[name]) for a in accepted if isinstance(a.get(name), (int, float))]
            tried_nums = [float(a[name]) for a in tried.values() if isinstance(a.get(name), (int, float))]
            info["quantiles"] = {"target": cfg["quantiles"], "tried": _quantiles(tried_nums) if tried_nums else None,
                                 "accepted": _quantiles(nums) if nums else None}
            out[name] = info
            continue
        target = cfg.get("target") or {}
        if not target:  # people, uuids, expressions...: how many distinct values were accepted
            info["distinct"] = len({json.dumps(a[name], sort_keys=True) for a in accepted if name in a})
            info["records"] = sum(1 for a in accepted if name in a)
            if info["distinct"] > FEW or any(isinstance(a.get(name), (dict, list)) for a in accepted):
                out[name] = info
                continue
            # a conditional or an expression with few values: its counts, with no target to compare
        acc = Counter(k for a in accepted if name in a for k in [_key(a[name], cfg)] if k is not None)
        tri = Counter(k for a in tried.values() if name in a for k in [_key(a[name], cfg)] if k is not None)
        n_acc, n_tri = sum(acc.values()), sum(tri.values())
        values = list(target) + [v for v in acc if v not in target]
        info["values"] = {v: {"target_share": target.get(v), "tried": tri.get(v, 0),
                              "tried_share": round(tri.get(v, 0) / n_tri, 4) if n_tri else 0.0,
                              "count": acc.get(v, 0), "share": round(acc.get(v, 0) / n_acc, 4) if n_acc else 0.0}
                          for v in values}
        info["missing"] = [v for v in target if acc.get(v, 0) == 0]
        if cfg.get("tree"):
            info["tree"] = cfg["tree"]
        out[name] = info
    return out


def variety_markdown(section: dict[str, Any], md: Any, table: Any, plot: str | None = None) -> list[str]:
    """The section as markdown lines (`md` escapes text, `table` draws a table: report_md's helpers)."""
    if not section:
        return []
    L = ["### Planned variety (samplers)", "",
         "Each sampler's target, the share of candidates it was tried in, and the share of accepted records. "
         "Accepted far from tried: a gate rejects that value more than the others.", ""]
    for name, info in section.items():
        kind = info.get("kind")
        if "quantiles" in info:
            q = info["quantiles"]
            rows = [[k, (q["target"] or {}).get(k, "—"), (q.get("tried") or {}).get(k, "—"),
                     (q["accepted"] or {}).get(k, "—")] for k in ("p10", "p50", "p90", "mean")]
            L += [f"**{md(name)}** ({kind})", ""] + table(["", "target", "tried", "accepted"], rows) + [""]
            continue
        if "values" not in info:
            L += [f"**{md(name)}** ({kind}): {info.get('distinct', 0)} distinct values in "
                  f"{info.get('records', 0)} accepted records.", ""]
            continue
        missing = info.get("missing") or []
        head = f"**{md(name)}** ({kind})"
        for words, group in (("rejected every time", [v for v in missing if info["values"][v]["tried"]]),
                             ("never drawn (too few records)", [v for v in missing if not info["values"][v]["tried"]])):
            if group:
                shown = ", ".join(map(str, group[:20])) + (f" and {len(group) - 20} more" if len(group) > 20 else "")
                head += f" — {len(group)} of {len(info['values'])} {words}: {md(shown)}"
        rows = [[md(v), "—" if x["target_share"] is None else f"{x['target_share']:.0%}", f"{x['tried_share']:.0%}",
                 x["count"], f"{x['share']:.0%}"] for v, x in info["values"].items()]
        L += [head, ""] + table(["value", "target", "tried", "accepted", "share"], rows) + [""]
    if plot:
        L += [f"![samplers]({plot})", ""]
    return L
