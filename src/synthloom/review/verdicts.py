"""`synthloom review-import`: read accept/reject marks, estimate precision with a Wilson interval."""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from ..userfiles import jsonl_values

ACCEPT = {"accept", "accepted", "ok", "good", "yes", "y", "true", "1", "keep", "pass", "+"}
REJECT = {"reject", "rejected", "bad", "no", "n", "false", "0", "drop", "fail", "-"}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (default 95%)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def _verdict(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    v = str(value).strip().lower()
    if v in ACCEPT:
        return True
    if v in REJECT:
        return False
    return None


@dataclass
class Verdict:
    id: str
    accepted: bool | None
    stratum: str = "all"
    note: str = ""


def _read_jsonl(path: Path) -> list[Verdict]:
    out = []
    for n, row in jsonl_values(path, "give one verdict object per line"):
        raw = row.get("verdict", row.get("accept", row.get("label")))
        v = _verdict(raw)
        if raw not in (None, "") and v is None:
            raise InputFileError(f"{path}:{n}: verdict {raw!r} is neither accept nor reject "
                                 f"(use one of: accept, reject, true, false)")
        out.append(Verdict(str(row.get("id", n)), v, str(row.get("stratum", "all")), str(row.get("note", ""))))
    return out


_HEAD = re.compile(r"^##\s+\d+\.\s+`([^`]+)`(?:\s+—\s+[^:]+:\s+(.*))?\s*$")
_BOX = re.compile(r"^\s*-\s*\[([ xX])\]\s*(accept|reject)\b", re.IGNORECASE)
_NOTE = re.compile(r"^\s*-\s*note:\s*(.*)$", re.IGNORECASE)


def _read_markdown(path: Path) -> list[Verdict]:
    out: list[Verdict] = []
    cur: dict[str, Any] | None = None

    def flush() -> None:
        if cur is None:
            return
        if cur["accept"] and cur["reject"]:
            raise InputFileError(f"{path}: record {cur['id']} is marked both accept and reject; keep one")
        v = True if cur["accept"] else False if cur["reject"] else None
        out.append(Verdict(cur["id"], v, cur["stratum"], cur["note"]))

    for line in path.read_text(encoding="utf-8").splitlines():
        m = _HEAD.match(line)
        if m:
            flush()
            cur = {"id": m.group(1), "stratum": (m.group(2) or "all").strip(), "accept": False, "reject": False, "note": ""}
            continue
        if cur is None:
            continue
        b = _BOX.match(line)
        if b and b.group(1).lower() == "x":
            cur[b.group(2).lower()] = True
            continue
        nt = _NOTE.match(line)
        if nt:
            cur["note"] = nt.group(1).strip()
    flush()
    return out


def read_verdicts(path: str | Path) -> list[Verdict]:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file; give the sample.jsonl or sample.md written by `synthloom sample`")
    return _read_markdown(path) if path.suffix.lower() in (".md", ".markdown") else _read_jsonl(path)


@dataclass
class ReviewResult:
    reviewed: int
    accepted: int
    unmarked: int
    precision: float | None
    ci_low: float
    ci_high: float
    by_stratum: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected_notes: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"reviewed": self.reviewed, "accepted": self.accepted, "unmarked": self.unmarked,
                "precision": self.precision, "ci95": [self.ci_low, self.ci_high], "by_stratum": self.by_stratum,
                "rejected_notes": [{"id": i, "note": n} for i, n in self.rejected_notes]}


def summarize(verdicts: list[Verdict], z: float = 1.959964) -> ReviewResult:
    marked = [v for v in verdicts if v.accepted is not None]
    ok = sum(1 for v in marked if v.accepted)
    lo, hi = wilson_interval(ok, len(marked), z)
    strata: dict[str, list[Verdict]] = defaultdict(list)
    for v in marked:
        strata[v.stratum].append(v)
    by = {}
    for s, vs in sorted(strata.items()):
        k = sum(1 for v in vs if v.accepted)
        l2, h2 = wilson_interval(k, len(vs), z)
        by[s] = {"reviewed": len(vs), "accepted": k, "precision": k / len(vs), "ci95": [l2, h2]}
    return ReviewResult(len(marked), ok, len(verdicts) - len(marked), ok / len(marked) if marked else None, lo, hi, by,
                        [(v.id, v.note) for v in marked if not v.accepted and v.note])
