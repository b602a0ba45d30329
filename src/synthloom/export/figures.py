"""Matplotlib primitives shared by the report's plots: colours, a figure without pyplot's global state, save."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import require

BLUE, GREY, RED, GREEN = "#3b6ea8", "#b0b7c3", "#c0504d", "#5a9e5a"


def figure(width: float, height: float):
    require("matplotlib", "report", "report plots")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def integer_axis(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def save(fig: Any, path: Path) -> Path:
    fig.savefig(path, format="png")
    return path
