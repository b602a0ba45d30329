"""What a training run hands back: `train_classifier` and `train_lora` both return a `TrainSummary`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainSummary:
    out_dir: Path
    kind: str
    counts: dict[str, int]
    scores: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
