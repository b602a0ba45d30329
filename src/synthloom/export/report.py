"""The run report: why the yield is what it is, in report.md + report.json + PNG plots.

Everything is read from the run store (`runs.open_store(RUN_DIR)`), so the numbers
are the store's numbers: the funnel is `RunStore.funnel()`, rejection counts are
`RunStore.rejection_counts()`, cost is `RunStore.usage()`.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..records import Record, Rejection
from ..runs import open_store, read_manifest
from ..userfiles import atomic_path, check_folder, ensure_folder, readable
from ..quality.text import record_text, words
from .report_signals import summary
from .report_variety import variety_section

def _short(value: Any, n: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def rejection_table(rejections: Iterable[Rejection], counts: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """One row per (stage, reason) with its count and the first example."""
    examples: dict[tuple[str, str], Rejection] = {}
    for r in rejections:
        examples.setdefault((r.stage, r.reason), r)
    total = sum(n for s, _r, n in counts if s != "surplus")
    rows = []
    for stage, reason, n in counts:
        if stage == "surplus":
            continue
        ex = examples.get((stage, reason))
        rows.append({
            "stage": stage, "reason": reason, "count": n, "share": round(n / total, 4) if total else 0.0,
            "example": None if ex is None else {
                "detail": ex.detail, "data": ex.data, "raw": None if ex.data is not None else _short(ex.raw or "", 400)},
        })
    return rows


def _attribute_coverage(records: list[Record], recipe: dict[str, Any]) -> dict[str, Any]:
    declared = (recipe.get("generate") or {}).get("attributes") or {}
    sampled = (recipe.get("generate") or {}).get("samplers") or {}  # their own section: report_variety.py
    seen: dict[str, Counter] = {}
    for r in records:
        attrs = r.meta.get("attributes")
        if isinstance(attrs, dict):
            for axis, value in attrs.items():
                if axis in sampled:
                    continue
                seen.setdefault(axis, Counter())[value if isinstance(value, str) else json.dumps(value)] += 1
    out = {}
    for axis in list(declared) + [a for a in seen if a not in declared]:
        counts = seen.get(axis, Counter())
        values = list(declared.get(axis) or []) if isinstance(declared.get(axis), list) else []
        values = [v if isinstance(v, str) else json.dumps(v) for v in values]
        values += [v for v in counts if v not in values]
        n = sum(counts.values())
        target = 1 / len(declared[axis]) if values and axis in declared and declared[axis] else None
        out[axis] = {
            "values": {v: {"count": counts.get(v, 0), "share": round(counts.get(v, 0) / n, 4) if n else 0.0,
                           "target_share": None if target is None or v not in values[: len(declared[axis])]
                           else round(target, 4)} for v in values},
            "missing": [v for v in values if counts.get(v, 0) == 0],
        }
    return out


def _label_info(records: list[Record], rejections: list[Rejection], recipe: dict[str, Any]) -> dict[str, Any] | None:
    gates = [g for g in recipe.get("quality") or [] if g.get("gate") == "label"]
    if not gates:
        return None
    g = gates[0]
    field, labels = g.get("label_field", "label"), g.get("labels") or []
    counts = Counter(str(r.data.get(field)) for r in records if isinstance(r.data, dict) and field in r.data)
    agree = sum(1 for r in records if r.meta.get("scores", {}).get("label_agrees") is True)
    flagged = sum(1 for r in records if r.meta.get("scores", {}).get("label_agrees") is False)
    mismatched = sum(1 for r in rejections if r.stage == "label" and r.reason == "label_mismatch")
    checked = agree + flagged + mismatched
    n = sum(counts.values())
    return {
        "field": field, "action": g.get("action", "reject"),
        "distribution": {lab: {"count": counts.get(lab, 0), "share": round(counts.get(lab, 0) / n, 4) if n else 0.0,
                               "target_share": round(1 / len(labels), 4) if labels else None}
                         for lab in list(labels) + [x for x in counts if x not in labels]},
        "checked": checked, "agreed": agree, "disagreed": flagged + mismatched,
        "agreement_rate": round(agree / checked, 4) if checked else None,
    }


def _judge_scores(records: list[Record], rejections: list[Rejection]) -> dict[str, Any] | None:
    acc = [r.meta.get("scores", {}).get("judge") for r in records]
    rej = [r.meta.get("scores", {}).get("judge") for r in rejections if r.stage == "judge"]
    acc = [s for s in acc if isinstance(s, int)]
    rej = [s for s in rej if isinstance(s, int)]
    if not acc and not rej:
        return None
    hist = {str(k): {"accepted": acc.count(k), "rejected": rej.count(k)} for k in range(1, 6)}
    return {"histogram": hist, "accepted": summary([float(x) for x in acc]),
            "all": summary([float(x) for x in acc + rej])}


def _cost(store: Any, run_id: str, info: dict[str, Any], accepted: int) -> dict[str, Any]:
    usage = store.usage(run_id)
    per_model: dict[str, dict[str, int]] = {}
    for u in usage:
        m = per_model.setdefault(u["model"], {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0})
        for k in m:
            m[k] += u[k]
    totals = {k: sum(u[k] for u in usage) for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens")}
    wall = float(info.get("wall_s") or 0.0)
    from ..engine.cost import price_table, usage_cost

    money = usage_cost(usage, price_table(info.get("recipe") or {}))
    for u, m in zip(usage, money["by_model_and_purpose"]):
        u["cost"] = m["cost"]
    for name, c in money["by_model"].items():
        per_model[name]["cost"] = c
    return {
        "by_model_and_purpose": usage, "by_model": per_model, "totals": totals, "wall_s": round(wall, 3),
        "money": {k: money[k] for k in ("prices", "by_purpose", "total", "unpriced_models")},
        "cost_per_accepted": round(money["total"] / accepted, 6) if money["total"] is not None and accepted else None,
        "concurrency": _concurrency(store.path.parent),
        "batches": _batches(store, run_id),
        "records_per_s": round(accepted / wall, 4) if wall > 0 else None,
        "completion_tokens_per_accepted": round(totals["completion_tokens"] / accepted, 1) if accepted else None,
        "cache_hit_rate": round(totals["cache_hits"] / totals["calls"], 4) if totals["calls"] else None,
    }


def _batches(store: Any, run_id: str) -> dict[str, Any] | None:
    """The run's provider batches (batch_api), without the rows of those in flight; None when it made none."""
    from ..runs.batch_log import BatchLog, has_batches

    if not has_batches(store):
        return None
    s = BatchLog(store).summary(run_id)
    return {k: v for k, v in s.items() if k != "in_flight"} if s["batches"] else None


def _concurrency(run_dir: Path) -> list[dict[str, Any]]:
    """The adaptive concurrency of the run's HTTP backends, as the manifest recorded it at the end."""
    try:
        return read_manifest(run_dir).get("concurrency") or []
    except (OSError, ValueError, AttributeError):
        return []


REPORT_SAMPLE = 50_000  # records (and rejections) a report reads at most; more are sampled uniformly


def build_report(run_dir: str | Path, *, run_id: str | None = None, embedder: Any = "auto",
                 text_fields: list[str] | None = None, seed: int = 0) -> dict[str, Any]:
    """The report as a dict (what report.json holds)."""
    from ..quality.diversity import diversity_metrics
    from .compare import labelled_sections
    from .report_signals import signal_distributions
    from .report_decontaminate import decontamination_section
    from .report_conversation import conversation_section
    from .report_preference import preference_section

    run_dir = Path(run_dir)
    with open_store(run_dir) as store:
        info = store.run_info(run_id)
        rid = info["run_id"]
        records = store.sample_accepted(rid, REPORT_SAMPLE, seed)  # bounded: a run of any size
        rejections = store.sample_rejections(rid, REPORT_SAMPLE, seed)
        sampled_from = store.accepted_count(rid)
        counts = store.rejection_counts(rid)
        funnel = store.funnel(rid)
        cost = _cost(store, rid, info, store.accepted_count(rid))
    recipe = info.get("recipe") or {}
    texts = [record_text(r.data, text_fields) for r in records]
    if embedder == "auto":
        embedder = _default_embedder()
    diversity = diversity_metrics(texts, embedder, seed=seed) if texts else {"n": 0}
    if sampled_from > len(records):
        diversity["sampled_from"] = sampled_from  # metrics and distributions of a uniform sample of the records
    if embedder is None:
        diversity["embedding"] = None
        diversity["note"] = "no embedding model installed: install synthloom[embed] for embedding distance and Vendi score"
    generated = funnel.get("generated", 0)
    return {
        "run": {"run_id": rid, "name": info.get("name"), "status": info.get("status"), "target": recipe.get("count"),
                "technique": (recipe.get("generate") or {}).get("technique"),
                "models": _model_names(recipe), "gates": [g.get("gate") for g in recipe.get("quality") or []],
                "judge_threshold": next((g.get("threshold", 3) for g in recipe.get("quality") or []
                                         if g.get("gate") == "judge"), None),
                "created": info.get("created"), "updated": info.get("updated"),
                "checks": _manifest(run_dir).get("checks")},  # the acceptance checks applied (quality/checks.py)
        "funnel": funnel,
        "yield": round(funnel.get("accepted", 0) / generated, 4) if generated else None,
        "rejections": rejection_table(rejections, counts),
        "diversity": diversity,
        "distributions": {
            "length_chars": summary([float(len(t)) for t in texts]),
            "length_words": summary([float(len(words(t))) for t in texts]),
            "attributes": _attribute_coverage(records, recipe),
            "samplers": variety_section(records, rejections, _generator(run_dir)),
            "labels": _label_info(records, rejections, recipe),
            "judge_scores": _judge_scores(records, rejections),
            "signals": signal_distributions(records, rejections, recipe),
        },
        "cost": cost,
        "decoding": _decoding(run_dir),
        "decontamination": decontamination_section(records, rejections, recipe),
        "conversation": conversation_section(records, rejections, recipe),
        "preference": preference_section(records, rejections, recipe),
        **labelled_sections(records, rejections, recipe, run_dir, embedder),  # classification, augment, reference
    }


def _manifest(run_dir: Path) -> dict[str, Any]:
    try:
        return read_manifest(run_dir) or {}
    except (OSError, ValueError):
        return {}


def _generator(run_dir: Path) -> dict[str, Any]:
    """The manifest's `generator` (what the technique described at the end of the run), or {}."""
    return _manifest(run_dir).get("generator") or {}


def _decoding(run_dir: Path) -> dict[str, list[str]]:
    """What the technique narrowed in the user's schema and the cross-field rules it applied (the manifest's
    `generator`): every narrowing and rule is shown, none is hidden."""
    gen = _generator(run_dir)
    return {"narrowing": list(gen.get("narrowing") or []), "rules": list(gen.get("rules") or []),
            "retries": gen.get("retries"), "notes": list(gen.get("notes") or [])}


def _model_names(recipe: dict[str, Any]) -> list[str]:
    models = recipe.get("model")
    models = models if isinstance(models, list) else [models] if models else []
    out = []
    for m in models:
        if m.get("backend") == "openai":
            out.append(f"openai:{m.get('model')}@{m.get('base_url')}")
        else:
            out.append(f"llamacpp:{m.get('path') or 'bundled gemma3-270m'}")
    return out


def _default_embedder() -> Any:
    from ..errors import MissingDependencyError
    from ..quality.embeddings import make_embedder

    try:
        return make_embedder()
    except MissingDependencyError:
        return None


def write_report(run_dir: str | Path, out_dir: str | Path | None = None, **kwargs: Any) -> dict[str, Path]:
    """Write report.md, report.json and PNG plots (default: RUN_DIR/report/). Returns the paths."""
    from .compare_md import compare_plots
    from .plots import make_plots
    from .report_md import render_markdown

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    check_folder(out, "report folder")
    min_agreement = kwargs.pop("min_agreement", 0.8)
    report = build_report(run_dir, **kwargs)  # a run folder that is not one fails here, before any folder is made
    ensure_folder(out, "report folder")
    from ..review.calibrate import review_section

    review = review_section(run_dir, min_agreement)  # the human verdicts of `synthloom review`, if any
    if review:
        report["review"] = review
    with open_store(run_dir) as store:
        records = store.sample_accepted(report["run"]["run_id"], REPORT_SAMPLE, kwargs.get("seed", 0))
    texts_lengths = [len(record_text(r.data, kwargs.get("text_fields"))) for r in records]
    plots = make_plots(report, out, texts_lengths)
    plots.update(compare_plots(report.get("reference"), out))
    report["plots"] = {k: p.name for k, p in plots.items()}
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(report), encoding="utf-8")
    readable(out / "report.json", out / "report.md")
    return {"markdown": out / "report.md", "json": out / "report.json", **plots}
