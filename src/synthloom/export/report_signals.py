"""The report's quality-signal section: each signal's distribution over accepted and rejected records, threshold marked."""
from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from ..records import Record, Rejection

# score key -> (signal / gate name, threshold option, default threshold, rejects when the score is ...)
SIGNAL_SCORES = {
    "relevance": ("relevance", "threshold", 0.9, "below"),
    "perplexity": ("fluency", "max_perplexity", 200.0, "above"),
    "completeness": ("completeness", "threshold", 0.6, "below"),
    "form": ("form", None, 1.0, "below"),
}


def summary(values: list[float]) -> dict[str, float]:
    """n, min, p10, median, mean, p90, max of a list of numbers ({"n": 0} when empty)."""
    if not values:
        return {"n": 0}
    s = sorted(values)

    def pct(p: float) -> float:
        return float(s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))])

    return {"n": len(s), "min": float(s[0]), "p10": pct(0.10), "median": float(statistics.median(s)),
            "mean": round(statistics.fmean(s), 2), "p90": pct(0.90), "max": float(s[-1])}


def _thresholds(recipe: dict[str, Any]) -> dict[str, float | None]:
    gates = {g.get("gate"): g for g in recipe.get("quality") or [] if isinstance(g, dict)}
    on = set(gates) | set((recipe.get("generate") or {}).get("signals") or [])
    out: dict[str, float | None] = {}
    for key, (gate, option, default, _side) in SIGNAL_SCORES.items():
        if gate in on:
            out[key] = gates.get(gate, {}).get(option, default) if option else default
    return out


def signal_distributions(records: list[Record], rejections: list[Rejection], recipe: dict[str, Any]) -> dict[str, Any] | None:
    thresholds = _thresholds(recipe)
    out: dict[str, Any] = {}
    for key, (_gate, _opt, _default, side) in SIGNAL_SCORES.items():
        acc = [r.meta.get("scores", {}).get(key) for r in records]
        rej = [r.meta.get("scores", {}).get(key) for r in rejections]
        acc = [float(x) for x in acc if isinstance(x, (int, float))]
        rej = [float(x) for x in rej if isinstance(x, (int, float))]
        if not acc and not rej:
            continue
        out[key] = {"threshold": thresholds.get(key), "rejects": side, "accepted": summary(acc),
                    "rejected": summary(rej), "values": {"accepted": acc, "rejected": rej}}
    return out or None


def signals_plot(dist: dict[str, Any], path: Path) -> Path:
    from .figures import GREEN, RED, figure, save

    keys = list(dist)
    fig = figure(3.2 * len(keys), 3.0)
    for i, key in enumerate(keys, 1):
        ax = fig.add_subplot(1, len(keys), i)
        d = dist[key]
        acc, rej = d["values"]["accepted"], d["values"]["rejected"]
        log = key == "perplexity"
        data = [v for v in acc + rej if not log or v > 0]
        lo, hi = (min(data), max(data)) if data else (0.0, 1.0)
        if log:
            import numpy as np

            bins = np.geomspace(max(lo, 1.0), max(hi, lo * 1.01, 2.0), 16)
            ax.set_xscale("log")
        else:
            bins = [j / 10 for j in range(11)] if hi <= 1 and lo >= 0 else 10
        ax.hist([acc, rej], bins=bins, stacked=True, color=[GREEN, RED], label=["accepted", "rejected"])
        t = d.get("threshold")
        if t is not None:
            ax.axvline(t, color="black", linestyle="--", linewidth=1)
            ax.text(t, ax.get_ylim()[1] * 0.95, f" {t:g}", va="top", fontsize=8)
        ax.set_title(key, fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        if i == 1:
            ax.set_ylabel("records")
            ax.legend(fontsize=7)
    fig.suptitle("Quality signals (dashed: threshold)")
    return save(fig, path)


def signals_markdown(dist: dict[str, Any] | None, plot: str | None) -> list[str]:
    if not dist:
        return []

    def f(x: Any) -> str:
        return "—" if x is None else f"{x:.3g}"

    L = ["### Quality signals", "", "| score | threshold | accepted (n, median) | rejected (n, median) |",
         "| --- | --- | --- | --- |"]
    for key, d in dist.items():
        t = d["threshold"]
        L.append(f"| {key} | {'—' if t is None else ('> ' if d['rejects'] == 'above' else '< ') + f'{t:g} rejects'} | "
                 f"{d['accepted'].get('n', 0)}, {f(d['accepted'].get('median'))} | "
                 f"{d['rejected'].get('n', 0)}, {f(d['rejected'].get('median'))} |")
    L.append("")
    if plot:
        L += [f"![quality signals]({plot})", ""]
    return L
