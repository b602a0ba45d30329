"""Conversations on the bundled model: speed, turns kept vs rejected, and the dialogues to read.

    python benchmarks/conversations.py -n 20 -o bench-out/conv          # runs examples/conversation.yaml
    python benchmarks/conversations.py --read bench-out/conv            # the figures of a finished run again

Prints conversations per minute (accepted conversations over the run's wall time), messages per
conversation, end reasons, turns kept vs rejected (by reason and role), conversations dropped, and writes
every accepted conversation to OUT/conversations.md for reading; the figures to OUT/figures.json.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def figures(run_dir: Path, wall_s: float | None) -> dict:
    from synthloom import RunStore

    with RunStore(run_dir / "store.sqlite") as s:
        info = s.run_info()
        recs = s.accepted_records()
        rej = [r for r in s.rejections() if r.stage != "surplus"]
        usage = s.usage(info["run_id"])
    wall = wall_s if wall_s is not None else info.get("wall_s")
    turns = [r.data["turns"] for r in recs]
    turn_rej = [r for r in rej if r.stage == "turn"]
    kept = sum(turns)
    return {
        "conversations": len(recs), "wall_s": round(wall, 1) if wall else None,
        "conversations_per_min": round(60 * len(recs) / wall, 2) if wall else None,
        "messages_mean": round(kept / len(recs), 2) if recs else None,
        "messages_hist": dict(sorted(Counter(turns).items())),
        "end_reasons": dict(Counter(r.data["end_reason"] for r in recs).most_common()),
        "turns_kept": kept, "turns_rejected": len(turn_rej),
        "kept_share": round(kept / (kept + len(turn_rej)), 3) if kept + len(turn_rej) else None,
        "rejected_by_reason": dict(Counter(r.reason for r in turn_rej).most_common()),
        "rejected_by_role": dict(Counter(r.meta.get("role") for r in turn_rej).most_common()),
        "conversations_dropped": dict(Counter(r.reason for r in rej if r.stage != "turn").most_common()),
        "calls": sum(u["calls"] for u in usage), "completion_tokens": sum(u["completion_tokens"] for u in usage),
    }


def dump(run_dir: Path, out: Path) -> None:
    from synthloom import RunStore

    with RunStore(run_dir / "store.sqlite") as s:
        recs = s.accepted_records()
    lines = []
    for i, r in enumerate(recs, 1):
        sc = r.data["scenario"]
        lines += [f"## {i}. {sc['goal']} ({r.data['end_reason']}, {r.data['turns']} messages)", "",
                  "- " + "; ".join(f"{k}: {v}" for k, v in sc.items() if k != "goal"), ""]
        lines += [f"{k}. **{m['role']}**: {m['content']}" for k, m in
                  enumerate([m for m in r.data["messages"] if m["role"] != "system"], 1)]
        if r.meta.get("closing"):
            lines.append(f"- closing ({r.data['end_reason']}): {r.meta['closing']}")
        lines.append("")
    (out / "conversations.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("-o", type=Path, default=Path("bench-out/conv"))
    ap.add_argument("--read", type=Path, default=None, help="a finished run directory: figures only")
    a = ap.parse_args()
    if a.read:
        run_dir, wall = a.read, None
        out = a.read
    else:
        from synthloom import load_recipe, run_recipe

        recipe = load_recipe(ROOT / "examples" / "conversation.yaml")
        recipe.count = a.n
        recipe.engine.max_attempts = 3 * a.n
        t0 = time.perf_counter()
        run_recipe(recipe, base_dir=ROOT / "examples", output=a.o)
        wall = time.perf_counter() - t0
        run_dir = out = a.o
    f = figures(run_dir, wall)
    dump(run_dir, out)
    (out / "figures.json").write_text(json.dumps(f, indent=2))
    print(json.dumps(f, indent=2))


if __name__ == "__main__":
    main()
