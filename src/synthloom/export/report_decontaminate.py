"""The report's decontamination section: hits per benchmark, the closest pairs side by side, the share checked.

Read from `meta.decontamination`, which `gate: decontaminate` writes on every record it checks
(accepted or rejected): the closest benchmark item and its n-gram, LCS and cosine scores.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..records import Record, Rejection
from ..quality.text import record_text

PAIRS = 5


def _short(text: str, n: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _bench_name(entry: Any) -> str:
    spec = entry if isinstance(entry, dict) else {"path": str(entry)}
    if spec.get("name"):
        return spec["name"]
    p = Path(spec["path"])
    return p.stem if p.suffix else p.name


def decontamination_section(records: list[Record], rejections: list[Rejection], recipe: dict[str, Any]) -> dict[str, Any] | None:
    gates = [g for g in recipe.get("quality") or [] if isinstance(g, dict) and g.get("gate") == "decontaminate"]
    if not gates:
        return None
    fields = gates[0].get("fields")
    candidates = [r for r in rejections if r.stage != "surplus"]
    checked = [(r, True) for r in records if "decontamination" in r.meta] + \
              [(r, False) for r in candidates if "decontamination" in r.meta]
    hits = [r for r in candidates if r.stage == "decontaminate"]
    per = Counter({_bench_name(b): 0 for g in gates for b in g.get("benchmarks") or []})
    for r in hits:
        per[((r.meta["decontamination"].get("closest") or {}).get("benchmark")) or "?"] += 1

    def rank(item: tuple[Any, bool]) -> tuple:
        d = item[0].meta["decontamination"]
        c = d.get("closest") or {}
        return (bool(d.get("fired")), d.get("strength") or 0.0, c.get("cosine") or 0.0, c.get("ngram") or 0.0)

    def item(entry: tuple[Any, bool]) -> tuple:
        c = entry[0].meta["decontamination"].get("closest") or {}
        return str(c.get("benchmark") or ""), str(c.get("item") or "")

    pairs = []
    # the strongest first; ties by benchmark and item, not by the order slots happened to finish in
    for rec, accepted in sorted(sorted(checked, key=item), key=rank, reverse=True)[:PAIRS]:
        d = rec.meta["decontamination"]
        c = d.get("closest")
        if not c:
            continue
        pairs.append({"record": _short(record_text(rec.data, fields)), "benchmark": c["benchmark"], "item": c["item"],
                      "item_text": _short(c["item_text"]), "ngram": c.get("ngram"), "lcs": c.get("lcs"),
                      "cosine": c.get("cosine"), "fired": d.get("fired") or [], "accepted": accepted})
    n_acc = sum(1 for _, a in checked if a)
    return {"hits": dict(per), "rejected": len(hits), "accepted": len(records), "accepted_checked": n_acc,
            "accepted_checked_share": round(n_acc / len(records), 4) if records else None,
            "candidates": len(records) + len(candidates), "candidates_checked": len(checked), "closest": pairs}


def decontamination_markdown(s: dict[str, Any] | None) -> list[str]:
    from .markdown import fmt, table

    if not s:
        return []
    share = s["accepted_checked_share"]
    L = ["## Decontamination", "",
         f"Checked {s['accepted_checked']} of {s['accepted']} accepted records"
         + (f" ({share:.0%})" if share is not None else "")
         + f" and {s['candidates_checked']} of {s['candidates']} candidates (a candidate an earlier gate rejected is "
         f"not checked); {s['rejected']} rejected as a benchmark item.", ""]
    L += table(["benchmark", "hits"], [[b, n] for b, n in s["hits"].items()]) + [""]
    if s["closest"]:
        L += ["Closest pairs (n-gram overlap, longest common substring and cosine to the nearest item):", ""]
        L += table(["record", "benchmark item", "n-gram", "LCS", "cosine", "verdict"],
                   [[p["record"], f"{p['benchmark']} {p['item']}: {p['item_text']}", fmt(p["ngram"], 2),
                     fmt(p["lcs"], 2), fmt(p["cosine"], 2),
                     "kept" if p["accepted"] and not p["fired"] else ("rejected: " + ", ".join(p["fired"]) if p["fired"]
                                                                       else "rejected by another gate")]
                    for p in s["closest"]]) + [""]
    return L
