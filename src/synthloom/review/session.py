"""A review session: the sample, the verdicts in the run store, and the summary they add up to.

Verdicts live in the run store (`verdicts` table), keyed by item id, so a
closed tab or a killed server loses nothing and a new session over the same
run continues where the reviewer was.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..errors import UsageError
from ..records import fields_of
from .items import REASONS, VERDICTS, RunItems, load_items, pick_sample
from .verdicts import wilson_interval


def _rate(ok: int, n: int) -> dict[str, Any]:
    lo, hi = wilson_interval(ok, n)
    return {"reviewed": n, "accepted": ok, "precision": ok / n if n else None, "ci95": [lo, hi]}


def _value(v: Any) -> str:
    return v if isinstance(v, str) else "—" if v is None else str(v)


def summarize_verdicts(items: RunItems, verdicts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Precision of the accepted set (95% Wilson interval), overall and per attribute value / label / model;
    the reasons reviewers gave; how many rejected candidates the reviewers would have kept."""
    acc = [(items.accepted[i], v) for i, v in verdicts.items() if i in items.accepted and v["verdict"] != "skip"]
    ok = sum(1 for _, v in acc if v["verdict"] == "accept")
    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    label_field = items.label_field()
    for rec, v in acc:
        good = v["verdict"] == "accept"
        attrs = rec.meta.get("attributes")
        for axis, val in (attrs.items() if isinstance(attrs, dict) else []):
            groups[f"attribute {axis}"][_value(val)].append(good)
        if label_field and label_field in fields_of(rec.data) and not (isinstance(attrs, dict) and label_field in attrs):
            groups["label" if label_field == "label" else f"label {label_field}"][_value(rec.data.get(label_field))].append(good)
        groups["model"][_value(rec.meta.get("model"))].append(good)
    breakdown = {g: {val: _rate(sum(xs), len(xs)) for val, xs in sorted(vals.items())} for g, vals in groups.items()}
    rej = [(items.rejected[i], v) for i, v in verdicts.items() if i in items.rejected and v["verdict"] != "skip"]
    by_reason: dict[str, list[bool]] = defaultdict(list)
    for j, v in rej:
        by_reason[f"{j.stage}: {j.reason}"].append(v["verdict"] == "accept")
    reasons = Counter(v["reason"] for v in verdicts.values() if v["verdict"] == "reject" and v["reason"])
    notes = [{"id": i, "verdict": v["verdict"], "reason": v["reason"], "note": v["note"]}
             for i, v in verdicts.items() if v["note"]]
    return {
        "run": items.name, "accepted_records": len(items.accepted),
        "overall": _rate(ok, len(acc)),
        "skipped": sum(1 for i, v in verdicts.items() if v["verdict"] == "skip"),
        "by": breakdown,
        "reasons": dict(reasons.most_common()),
        "notes": notes,
        "rejected": {"reviewed": len(rej), "kept_by_reviewers": sum(1 for _, v in rej if v["verdict"] == "accept"),
                     "by_reason": {k: {"reviewed": len(x), "kept_by_reviewers": sum(x)} for k, x in sorted(by_reason.items())}},
    }


class ReviewSession:
    """The sample of one run and its verdicts. Use from one thread (the server's event loop)."""

    def __init__(self, run_dir: str | Path, n: int = 50, *, rejected: int = 0, by: str | None = None, seed: int = 0,
                 blind: bool = False) -> None:
        from ..runs import open_store

        self.items = load_items(run_dir)
        self.ids, self.by = pick_sample(self.items, n, rejected, by, seed)
        self.asked = (n, rejected)
        self.blind = blind
        self.store = open_store(Path(run_dir))

    def close(self) -> None:
        self.store.close()

    @property
    def run_id(self) -> str:
        return self.items.run_id

    def verdicts(self) -> dict[str, dict[str, Any]]:
        return self.store.verdicts(self.run_id)

    def page_items(self) -> list[dict[str, Any]]:
        verdicts = self.verdicts()
        out = []
        for i in self.ids:
            item = self.items.item(i, self.by)
            if item is None:
                continue
            item["verdict"] = verdicts.get(i)
            out.append(item)
        return out

    def first_open(self, verdicts: dict[str, Any] | None = None) -> int:
        """Index of the first item without a verdict (where the reviewer left off)."""
        verdicts = self.verdicts() if verdicts is None else verdicts
        return next((k for k, i in enumerate(self.ids) if i not in verdicts), len(self.ids))

    def save(self, item_id: Any, verdict: Any, reason: Any = "", note: Any = "") -> dict[str, Any]:
        if not isinstance(item_id, str) or item_id not in self.ids:
            raise UsageError(f"unknown item id {item_id!r}: it is not in this review's sample")
        if verdict not in VERDICTS:
            raise UsageError(f"verdict must be one of {', '.join(VERDICTS)} (got {verdict!r})")
        reason = reason or ""
        if not isinstance(reason, str) or len(reason) > 200:
            raise UsageError("reason must be a short text")
        if not isinstance(note, str) or len(note) > 4000:
            raise UsageError("note must be a text of at most 4000 characters")
        self.store.save_verdict(self.run_id, item_id, verdict, reason.strip(), note.strip())
        return {"id": item_id, "verdict": verdict, "reason": reason.strip(), "note": note.strip()}

    def summary(self) -> dict[str, Any]:
        verdicts = self.verdicts()
        out = summarize_verdicts(self.items, verdicts)
        out["sample"] = {"size": len(self.ids), "done": sum(1 for i in self.ids if i in verdicts), "by": self.by}
        return out

    def state(self) -> dict[str, Any]:
        """Everything the page needs at load time."""
        items = self.page_items()
        verdicts = {i["id"]: i["verdict"] for i in items if i["verdict"]}
        return {"run": self.items.name, "run_id": self.run_id, "by": self.by, "items": items,
                "start": self.first_open(verdicts), "reasons": list(REASONS), "blind": self.blind}


def verdict_rows(items: RunItems, verdicts: dict[str, dict[str, Any]]) -> Iterable[tuple[dict[str, Any], bool]]:
    """(item, human accepted) for every item with an accept or reject verdict."""
    for i, v in verdicts.items():
        if v["verdict"] == "skip":
            continue
        item = items.item(i, None)
        if item is not None:
            yield item, v["verdict"] == "accept"
