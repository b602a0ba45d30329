"""PNG plots for the run report (matplotlib, no pyplot global state)."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ..errors import require
from ..userfiles import ensure_folder
from .figures import BLUE, GREEN, GREY, RED, figure, integer_axis, save

def funnel_plot(funnel: dict[str, int], labels: dict[str, str], path: Path) -> Path:
    steps = list(funnel.items())
    fig = figure(7, 0.45 * len(steps) + 1.2)
    ax = fig.add_subplot()
    names = [labels.get(k, k) for k, _ in steps][::-1]
    values = [v for _, v in steps][::-1]
    top = max(values) if values and max(values) else 1
    colors = [GREEN if k == "accepted" else BLUE for k, _ in steps][::-1]
    bars = ax.barh(names, values, color=colors)
    for bar, v in zip(bars, values):
        ax.text(bar.get_width() + top * 0.01, bar.get_y() + bar.get_height() / 2, f"{v} ({v / top:.0%})",
                va="center", fontsize=9)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel("candidates")
    integer_axis(ax.xaxis)
    ax.set_title("Funnel: candidates left after each step")
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def rejections_plot(rows: list[dict[str, Any]], path: Path, top: int = 15) -> Path:
    rows = rows[:top]
    fig = figure(7, 0.4 * max(1, len(rows)) + 1.2)
    ax = fig.add_subplot()
    names = [f"{r['stage']}: {r['reason']}" for r in rows][::-1]
    values = [r["count"] for r in rows][::-1]
    bars = ax.barh(names, values, color=RED)
    for bar, v in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v}", va="center", fontsize=9)
    ax.set_xlim(0, (max(values) if values else 1) * 1.2)
    ax.set_xlabel("rejected candidates")
    integer_axis(ax.xaxis)
    ax.set_title("Rejections by stage and reason")
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def lengths_plot(lengths: list[int], path: Path) -> Path:
    fig = figure(7, 3.2)
    ax = fig.add_subplot()
    ax.hist(lengths, bins=min(30, max(5, len(set(lengths)))), color=BLUE, edgecolor="white")
    if lengths:
        med = statistics.median(lengths)
        ax.axvline(med, color="black", linestyle="--", linewidth=1)
        ax.text(med, ax.get_ylim()[1] * 0.95, f" median {med:g}", va="top", fontsize=9)
    ax.set_xlabel("characters per accepted record")
    ax.set_ylabel("records")
    integer_axis(ax.yaxis)
    ax.set_title("Length of accepted records")
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def coverage_plot(groups: dict[str, dict[str, dict[str, Any]]], path: Path, title: str) -> Path:
    """groups: axis -> value -> {share, target_share}; one panel per axis, actual vs target share."""
    axes = list(groups)
    fig = figure(7, 2.6 * len(axes) + 0.6)
    for i, axis in enumerate(axes):
        ax = fig.add_subplot(len(axes), 1, i + 1)
        values = list(groups[axis])
        xs = range(len(values))
        actual = [groups[axis][v]["share"] for v in values]
        target = [groups[axis][v].get("target_share") for v in values]
        ax.bar([x - 0.2 for x in xs], actual, width=0.4, color=BLUE, label="accepted")
        if any(t is not None for t in target):
            ax.bar([x + 0.2 for x in xs], [t or 0 for t in target], width=0.4, color=GREY, label="target")
        for x, v in zip(xs, values):
            ax.text(x - 0.2, actual[x], f"{groups[axis][v].get('count', '')}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(values, rotation=20 if len(values) > 4 else 0, ha="right" if len(values) > 4 else "center",
                           fontsize=9)
        ax.set_ylabel("share")
        ax.set_title(f"{axis}", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(title)
    return save(fig, path)


def judge_plot(hist: dict[str, dict[str, int]], threshold: int | None, path: Path) -> Path:
    fig = figure(6, 3.2)
    ax = fig.add_subplot()
    scores = sorted(hist, key=int)
    acc = [hist[s]["accepted"] for s in scores]
    rej = [hist[s]["rejected"] for s in scores]
    ax.bar(scores, acc, color=GREEN, label="accepted")
    ax.bar(scores, rej, bottom=acc, color=RED, label="rejected by judge")
    ax.set_ylim(0, max([a + b for a, b in zip(acc, rej)] + [1]) * 1.2)
    if threshold:
        ax.axvline(threshold - 1.5, color="black", linestyle="--", linewidth=1)
        ax.text(threshold - 1.45, ax.get_ylim()[1] * 0.95, f"threshold {threshold}", va="top", fontsize=9)
    ax.set_xlabel("judge score (1-5)")
    ax.set_ylabel("records")
    integer_axis(ax.yaxis)
    ax.set_title("Judge scores")
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return save(fig, path)


def make_plots(report: dict[str, Any], out: Path, lengths: list[int] | None = None) -> dict[str, Path]:
    mpl = require("matplotlib", "report", "report plots")
    ensure_folder(out, "report folder")
    with mpl.rc_context({"text.parse_math": False}):  # a value like "$5-$10" is text, not TeX math
        return _make_plots(report, out, lengths)


def _make_plots(report: dict[str, Any], out: Path, lengths: list[int] | None) -> dict[str, Path]:
    from ..runs import FUNNEL_LABELS

    plots = {"funnel": funnel_plot(report["funnel"], FUNNEL_LABELS, out / "funnel.png")}
    if report["rejections"]:
        plots["rejections"] = rejections_plot(report["rejections"], out / "rejections.png")
    if lengths:
        plots["lengths"] = lengths_plot(lengths, out / "lengths.png")
    dist = report["distributions"]
    if dist.get("attributes"):
        groups = {axis: info["values"] for axis, info in dist["attributes"].items() if info["values"]}
        if groups:
            plots["attributes"] = coverage_plot(groups, out / "attributes.png", "Attribute coverage: accepted vs target")
    if dist.get("samplers"):  # samplers with a few values (long labels, e.g. topic leaves, cut to 32 characters)
        groups = {name: {v[:32]: x for v, x in info["values"].items()} for name, info in dist["samplers"].items()
                  if info.get("values") and len(info["values"]) <= 12}
        if groups:
            plots["samplers"] = coverage_plot(groups, out / "samplers.png", "Samplers: accepted vs target")
    if dist.get("labels"):
        plots["labels"] = coverage_plot({dist["labels"]["field"]: dist["labels"]["distribution"]},
                                        out / "labels.png", "Label distribution: accepted vs target")
    if dist.get("judge_scores"):
        gates = report.get("run", {}).get("judge_threshold")
        plots["judge_scores"] = judge_plot(dist["judge_scores"]["histogram"], gates, out / "judge_scores.png")
    if dist.get("signals"):
        from .report_signals import signals_plot

        plots["signals"] = signals_plot(dist["signals"], out / "signals.png")
    return plots
