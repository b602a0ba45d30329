"""The report's conversation section (`technique: conversation`): messages per conversation, end reasons,
the turns kept and rejected (by reason and by role), the tries a kept turn took, and a few
conversations in full.

Read from the records (`end_reason`, `messages`, `meta.turn_tries`) and the `turn`-stage rejections the
technique writes for every rejected try of a turn.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..records import Record, Rejection

SHOWN = 3


def _short(text: str, n: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def conversation_section(records: list[Record], rejections: list[Rejection],
                         recipe: dict[str, Any]) -> dict[str, Any] | None:
    if (recipe.get("generate") or {}).get("technique") != "conversation":
        return None
    turns = [int(r.data.get("turns", 0)) for r in records]
    tries = [k for r in records for k in r.meta.get("turn_tries") or []]
    turn_rej = [r for r in rejections if r.stage == "turn"]
    kept = sum(turns)
    whole = [r for r in rejections if r.reason.startswith("conversation:")]
    shown = []
    for r in records[:SHOWN]:
        shown.append({"scenario": r.data.get("scenario"), "end_reason": r.data.get("end_reason"),
                      "messages": [m for m in r.data.get("messages", []) if m.get("role") != "system"]})
    return {
        "conversations": len(records),
        "turns": {"mean": round(kept / len(turns), 2) if turns else None,
                  "histogram": dict(sorted(Counter(turns).items()))},
        "end_reasons": dict(Counter(str(r.data.get("end_reason")) for r in records).most_common()),
        "turns_kept": kept,
        "turns_rejected": len(turn_rej),
        "kept_share": round(kept / (kept + len(turn_rej)), 4) if kept + len(turn_rej) else None,
        "rejected_by_reason": dict(Counter(r.reason for r in turn_rej).most_common()),
        "rejected_by_role": dict(Counter(str(r.meta.get("role")) for r in turn_rej).most_common()),
        "tries_per_kept_turn": round(sum(tries) / len(tries), 2) if tries else None,
        "conversations_dropped": dict(Counter(r.reason for r in whole).most_common()),
        "shown": shown,
    }


def conversation_markdown(c: dict[str, Any] | None) -> list[str]:
    if not c:
        return []
    L = ["## Conversations", "",
         f"{c['conversations']} conversations, {c['turns']['mean']} messages each on average "
         f"({', '.join(f'{k}: {v}' for k, v in c['turns']['histogram'].items())}).", "",
         "| end reason | conversations |", "|---|---:|"]
    L += [f"| {k} | {v} |" for k, v in c["end_reasons"].items()]
    share = "n/a" if c["kept_share"] is None else f"{100 * c['kept_share']:.0f}%"
    L += ["", f"Turns kept: {c['turns_kept']}; rejected and written again: {c['turns_rejected']} "
              f"({share} of the turns written were kept; {c['tries_per_kept_turn']} tries per kept turn).", ""]
    if c["rejected_by_reason"]:
        L += ["| turn rejected for | tries |", "|---|---:|"]
        L += [f"| {k} | {v} |" for k, v in c["rejected_by_reason"].items()]
        L += ["", "By role: " + ", ".join(f"{k} {v}" for k, v in c["rejected_by_role"].items()) + ".", ""]
    if c["conversations_dropped"]:
        L += ["Conversations dropped (no complete exchange): "
              + ", ".join(f"{k} {v}" for k, v in c["conversations_dropped"].items()) + ".", ""]
    for i, conv in enumerate(c["shown"], 1):
        sc = conv.get("scenario") or {}
        L += [f"### Conversation {i} ({conv['end_reason']})", "",
              "- scenario: " + "; ".join(f"{k}: {v}" for k, v in sc.items()), ""]
        L += [f"{k}. **{m['role']}**: {_short(m['content'])}" for k, m in enumerate(conv["messages"], 1)]
        L.append("")
    return L
