"""The report's preference section (`technique: preference`): the share of prompts that gave a usable pair, why
the others did not, the margin distribution, which strategy was chosen and rejected, each strategy's mean score,
and how often the judge-free signals (and a reward model, or the judge when it is not the ranking) agree with
the ranking of a pair.

Read from the records (`margin`, `chosen_strategy`, `agreement`, `responses` in their lineage) and the rejections
at stage `pair` that the technique writes for ties, gaps under the margin and too few responses.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ..records import Record, Rejection

BINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def _bin(x: float) -> str:
    for lo, hi in zip(BINS, BINS[1:]):
        if x < hi:
            return f"{lo:g}-{hi:g}"
    return f">= {BINS[-1]:g}"


def _pct(vals: list[float], p: float) -> float | None:
    if not vals:
        return None
    s = sorted(vals)
    return round(s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))], 4)


def _vote(a: dict[str, Any], b: dict[str, Any]) -> str:
    ja, jb, sa, sb = a.get("judge"), b.get("judge"), a.get("signals_score"), b.get("signals_score")
    if None in (ja, jb, sa, sb):
        return "missing"
    if abs(ja - jb) < 1e-9:
        return "judge_tie"
    if abs(sa - sb) < 1e-9:
        return "signals_tie"
    return "agree" if (ja > jb) == (sa > sb) else "disagree"


def preference_section(records: list[Record], rejections: list[Rejection], recipe: dict[str, Any]) -> dict[str, Any] | None:
    if (recipe.get("generate") or {}).get("technique") != "preference":
        return None
    pair_rej = [r for r in rejections if r.stage == "pair"]
    slots_ok = {r.meta.get("slot") for r in records}
    slots_all = slots_ok | {r.meta.get("slot") for r in pair_rej}
    margins = [float(r.meta["margin"]) for r in records if r.meta.get("margin") is not None]
    agree: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        for part, vote in (r.meta.get("agreement") or {}).items():
            agree[part]["agree" if vote is True else "disagree" if vote is False else "undecided"] += 1
    per_strategy: dict[str, list[float]] = defaultdict(list)
    seen = set()
    between: Counter = Counter()  # judge vs signals on every two responses of a prompt
    for r in list(records) + pair_rej:
        key = r.meta.get("slot")
        if key in seen:
            continue
        seen.add(key)
        resp = [e for e in r.meta.get("responses") or [] if not e.get("dropped")]
        for e in resp:
            if e.get("score") is not None:
                per_strategy[e["strategy"]].append(float(e["score"]))
        for i, a in enumerate(resp):
            for b in resp[i + 1:]:
                between[_vote(a, b)] += 1
    return {
        "pairs": len(records),
        "prompts_tried": len(slots_all),
        "prompts_with_pair": len(slots_ok),
        "usable_share": round(len(slots_ok) / len(slots_all), 4) if slots_all else None,
        "dropped": dict(Counter(r.reason for r in pair_rej).most_common()),
        "margin": {"n": len(margins), "p10": _pct(margins, 0.1), "median": _pct(margins, 0.5), "p90": _pct(margins, 0.9),
                   "histogram": dict(sorted(Counter(_bin(m) for m in margins).items(),
                                            key=lambda kv: float(kv[0].split("-")[0].lstrip(">= "))))},
        "agreement": {part: {"agree": c["agree"], "disagree": c["disagree"], "undecided": c["undecided"], "share": round(c["agree"] / (c["agree"] + c["disagree"]), 3)
                             if c["agree"] + c["disagree"] else None} for part, c in agree.items()},
        "judge_vs_signals": {**{k: between[k] for k in ("agree", "disagree", "judge_tie", "signals_tie", "missing")},
                             "share": round(between["agree"] / (between["agree"] + between["disagree"]), 3)
                             if between["agree"] + between["disagree"] else None},
        "chosen_strategy": dict(Counter(r.meta.get("chosen_strategy") for r in records).most_common()),
        "rejected_strategy": dict(Counter(r.meta.get("rejected_strategy") for r in records).most_common()),
        "strategy_mean_score": {k: round(sum(v) / len(v), 4) for k, v in sorted(per_strategy.items())},
    }


def preference_markdown(p: dict[str, Any] | None) -> list[str]:
    if not p:
        return []
    share = "n/a" if p["usable_share"] is None else f"{100 * p['usable_share']:.0f}%"
    m = p["margin"]
    L = ["## Preference pairs", "",
         f"{p['pairs']} pairs from {p['prompts_with_pair']} of {p['prompts_tried']} prompts tried ({share} gave a "
         "usable pair).", ""]
    if p["dropped"]:
        L += ["Pairs not formed: " + ", ".join(f"{k} {v}" for k, v in p["dropped"].items()) + ".", ""]
    if m["n"]:
        L += [f"Margin (chosen - rejected score): p10 {m['p10']}, median {m['median']}, p90 {m['p90']}.", "",
              "| margin | pairs |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in m["histogram"].items()] + [""]
    for part, a in p["agreement"].items():
        share_a = "n/a" if a.get("share") is None else f"{100 * a['share']:.0f}%"
        L.append(f"- {part} agree with the ranking on {a.get('agree', 0)} pairs, disagree on {a.get('disagree', 0)}, "
                 f"undecided (tie or no value) on {a.get('undecided', 0)}: {share_a} of the decided pairs")
    js = p.get("judge_vs_signals") or {}
    if any(js.get(k) for k in ("agree", "disagree", "judge_tie", "signals_tie")):
        share_j = "n/a" if js.get("share") is None else f"{100 * js['share']:.0f}%"
        L.append(f"- judge and signals, on every two responses of a prompt: order them alike {js['agree']} times, "
                 f"oppositely {js['disagree']} ({share_j} agree); the judge ties {js['judge_tie']} times, the signals "
                 f"{js['signals_tie']}")
    L += ["", "| strategy | mean score | chosen | rejected |", "|---|---:|---:|---:|"]
    for k, v in p["strategy_mean_score"].items():
        L.append(f"| {k} | {v:.3f} | {p['chosen_strategy'].get(k, 0)} | {p['rejected_strategy'].get(k, 0)} |")
    L.append("")
    return L
