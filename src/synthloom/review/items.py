"""What a reviewer looks at: a run's records (and, on request, rejected candidates) as review items.

An item is a plain dict the page renders and the summary and calibration read:
its id (the accepted record's content id, or `rej-<seq>` for a rejected
candidate), the record's fields, its lineage, and one signal per scoring gate
(LLM judge, label check, support, the qa technique's unanswerable check) with
the score the gate gave and whether the record passed it.
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError, UsageError
from ..records import Record, Rejection, fields_of
from .sample import default_stratum, stratified_sample, stratum_of

log = logging.getLogger("synthloom.review")

VERDICTS = ("accept", "reject", "skip")

REASONS = ("wrong facts", "off task", "wrong label", "incoherent", "unsafe", "duplicate", "bad format", "other")
_LINEAGE_KEYS = ("technique", "model", "attributes", "kind", "persona", "phrasing", "parent_id", "parent", "root_id",
                 "round", "operation", "doc_id", "heading_path", "source_ids", "document_type", "attempt", "slot")


def _gate_config(recipe: dict[str, Any], gate: str) -> dict[str, Any] | None:
    return next((g for g in recipe.get("quality") or [] if g.get("gate") == gate), None)


def gate_signals(meta: dict[str, Any], recipe: dict[str, Any], rejection: Rejection | None = None) -> dict[str, dict]:
    """gate name -> {score, passed, threshold, shown, rationale} for every gate that scored this candidate."""
    scores = meta.get("scores") if isinstance(meta.get("scores"), dict) else {}
    out: dict[str, dict[str, Any]] = {}
    judge = scores.get("judge")
    if isinstance(judge, (int, float)) and not isinstance(judge, bool):
        threshold = (_gate_config(recipe, "judge") or {}).get("threshold", 3)
        j = meta.get("judge") if isinstance(meta.get("judge"), dict) else {}
        out["judge"] = {"score": float(judge), "passed": judge >= threshold, "threshold": threshold,
                        "shown": f"{judge:g}/5", "rationale": str(j.get("rationale", "")), "scale": [1, 5]}
    agrees = scores.get("label_agrees")
    if isinstance(agrees, bool):
        predicted = scores.get("label_predicted")
        out["label"] = {"score": 1.0 if agrees else 0.0, "passed": agrees, "threshold": None,
                        "shown": "agrees" if agrees else f"disagrees: predicted {predicted!r}",
                        "rationale": "" if predicted is None else f"an independent pass predicted {predicted!r}"}
    support: bool | None = None
    if scores.get("support") in ("yes", "no"):
        support = scores["support"] == "yes"
    elif rejection is not None and rejection.stage == "judge" and rejection.reason == "unsupported":
        support = False
    elif rejection is None and "judge" in meta and meta.get("judge") is None and meta.get("kind") not in (None, "unanswerable"):
        support = True  # the qa technique's own support judge passed
    if support is not None:
        out["support"] = {"score": 1.0 if support else 0.0, "passed": support, "threshold": None,
                          "shown": "supported" if support else "not supported",
                          "rationale": rejection.detail if rejection is not None and not support else ""}
    if rejection is not None and rejection.stage == "judge" and rejection.reason == "answerable":
        out["unanswerable"] = {"score": 0.0, "passed": False, "threshold": None, "shown": "answered in the documents",
                               "rationale": rejection.detail}
    elif rejection is None and "judge" in meta and meta.get("judge") is None and meta.get("kind") == "unanswerable":
        out["unanswerable"] = {"score": 1.0, "passed": True, "threshold": None, "shown": "not answered in the documents",
                               "rationale": ""}
    for k, v in scores.items():  # any other yes/no score a gate leaves (kept generic for gates added later)
        if k not in out and k not in ("judge", "label_agrees", "label_predicted", "support") and isinstance(v, bool):
            out[k] = {"score": 1.0 if v else 0.0, "passed": v, "threshold": None, "shown": "yes" if v else "no",
                      "rationale": ""}
    return out


def highlights(data: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Passages to mark in the source text: the record's cited evidence, or an extraction's values."""
    out: list[str] = []
    data = fields_of(data)
    ev = data.get("evidence", meta.get("evidence"))
    for e in [ev] if isinstance(ev, str) else ev if isinstance(ev, list) else []:
        if isinstance(e, str) and e.strip():
            out.append(e.strip())
    for key in ("extraction", "label"):
        val = data.get(key)
        if isinstance(val, dict) and isinstance(data.get("document"), str):
            out += [v.strip() for v in val.values() if isinstance(v, str) and len(v.strip()) >= 3]
    return list(dict.fromkeys(out))


def make_item(item_id: str, data: dict[str, Any], meta: dict[str, Any], recipe: dict[str, Any], stratum: str,
              rejection: Rejection | None = None) -> dict[str, Any]:
    lineage = {k: meta[k] for k in _LINEAGE_KEYS if k in meta and meta[k] not in (None, "", [], {})}
    contexts = meta.get("contexts")
    return {
        "id": item_id, "kind": "rejected" if rejection else "accepted", "stratum": stratum, "data": data,
        "lineage": lineage, "sources": [c for c in contexts if isinstance(c, str)] if isinstance(contexts, list) else [],
        "highlights": highlights(data, meta), "gates": gate_signals(meta, recipe, rejection),
        "rejection": None if rejection is None else {"stage": rejection.stage, "reason": rejection.reason,
                                                     "detail": rejection.detail},
        "meta": meta,
    }


@dataclass
class RunItems:
    """Every reviewable candidate of one run, by item id, and the run's recipe."""

    run_dir: Path
    run_id: str
    name: str
    recipe: dict[str, Any]
    accepted: dict[str, Record] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)

    def label_field(self) -> str | None:
        cfg = _gate_config(self.recipe, "label")
        if cfg:
            return cfg.get("label_field", "label")
        return "label" if any(isinstance(fields_of(r.data).get("label"), str) for r in self.accepted.values()) else None

    def item(self, item_id: str, by: str | None) -> dict[str, Any] | None:
        if item_id in self.accepted:
            r = self.accepted[item_id]
            return make_item(item_id, r.data, r.meta, self.recipe, stratum_of(r, by))
        if item_id in self.rejected:
            j = self.rejected[item_id]
            return make_item(item_id, j.data or {}, j.meta, self.recipe, f"{j.stage}: {j.reason}", j)
        return None


def load_items(run_dir: str | Path) -> RunItems:
    from ..runs import open_store

    run_dir = Path(run_dir)
    with open_store(run_dir) as store:
        info = store.run_info()
        rid = info["run_id"]
        accepted = {}
        for r in store.iter_accepted(rid):
            accepted.setdefault(r.id, r)
        rejected = {f"rej-{seq}": j for seq, j in store.rejected_items(rid) if j.data is not None}
    return RunItems(run_dir, rid, info.get("name") or run_dir.name, info.get("recipe") or {}, accepted, rejected)


def pick_sample(items: RunItems, n: int, rejected: int = 0, by: str | None = None, seed: int = 0) -> tuple[list[str], str | None]:
    """Item ids to review, in review order (stratified, seeded), and the stratum field used."""
    if n < 0 or rejected < 0:
        raise UsageError(f"-n and --rejected must be >= 0 (got {n} and {rejected})")
    if n == 0 and rejected == 0:
        raise UsageError("nothing to review: give -n > 0 (accepted records) or --rejected > 0")
    if n > 0 and not items.accepted:
        raise InputFileError(f"{items.run_dir}: the run has no accepted records to review; run it to completion first"
                             + (", or review rejected candidates with -n 0 --rejected N" if items.rejected else ""))
    if rejected > 0 and not items.rejected:
        if n == 0:
            raise InputFileError(f"{items.run_dir}: the run kept no rejected candidate with data to review; "
                                 "give -n N to review accepted records instead")
        # a run whose candidates all passed: the accepted sample is still worth reviewing
        log.warning("%s: the run kept no rejected candidate with data to review; reviewing accepted records only",
                    items.run_dir)
        rejected = 0
    accepted = list(items.accepted.values())
    by = by or default_stratum(accepted, items.recipe)
    ids = [r.id for _, r in stratified_sample(accepted, n, by, seed)] if n else []
    if rejected:
        # stratified by stage and reason, so every kind of rejection is seen
        keyed = [Record(j.data or {}, {"attributes": {"_why": f"{j.stage}: {j.reason}"}, "_id": k})
                 for k, j in items.rejected.items()]
        ids += [r.meta["_id"] for _, r in stratified_sample(keyed, rejected, "_why", seed)]
        random.Random(seed).shuffle(ids)  # rejected candidates among the accepted ones, not in a block
    return ids, by


def dumps_items(items: list[dict[str, Any]]) -> str:
    """JSON for the page; `</` is escaped so the text is safe even if embedded in HTML."""
    return json.dumps(items, ensure_ascii=False, default=str).replace("</", "<\\/")
