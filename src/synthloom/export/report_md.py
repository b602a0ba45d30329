"""report.json -> report.md: the same numbers, readable."""
from __future__ import annotations

import json
from typing import Any

from ..runs import FUNNEL_LABELS
from .markdown import Md, fmt, md, table
from .report_variety import variety_markdown


def _example(ex: dict[str, Any] | None) -> str:
    if not ex:
        return ""
    shown = ex.get("data") if ex.get("data") is not None else ex.get("raw")
    text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
    text = " ".join((text or "").split())
    return text[:160] + ("…" if len(text) > 160 else "")


def render_markdown(r: dict[str, Any]) -> str:
    run, f = r["run"], r["funnel"]
    L: list[str] = [f"# Run report: {md(run.get('name'))}", ""]
    L += [f"- run id `{run['run_id']}`, status **{run.get('status')}**, technique `{run.get('technique')}`",
          f"- model(s): {md(', '.join(run.get('models') or []) or '—')}; "
          f"gates: {md(', '.join(run.get('gates') or []) or 'none')}"
          + (f"; acceptance checks: {md(', '.join(run['checks']) or 'none')} (rejections `<check>:<signal>`, "
             "switch with `checks:` or `--checks`)" if run.get("checks") is not None else ""),
          f"- target {run.get('target')} records; accepted **{f.get('accepted', 0)}** of {f.get('generated', 0)} "
          f"candidates (yield {fmt((r.get('yield') or 0) * 100, 1)}%)", ""]

    dec = r.get("decoding") or {}
    if dec.get("narrowing") or dec.get("rules") or dec.get("retries"):
        L += ["## What the decoder narrowed, and the rules applied", "",
              "Learned only from the schema and the recipe's examples (switch off with `narrowing:` in the "
              "technique); rules are the recipe's `rules:`.", ""]
        L += [f"- narrowing `{md(x)}`" for x in dec.get("narrowing") or []]
        L += [f"- {md(x)}" for x in dec.get("rules") or []]
        L += [f"- {md(dec['retries'])}"] * bool(dec.get("retries")) + [""]

    if dec.get("notes"):  # what the technique said before its first call (a count its input cannot give)
        L += ["## Notes from the technique", ""] + [f"- {md(x)}" for x in dec["notes"]] + [""]

    L += ["## Funnel", "", "Candidates left after each step (a step removes the rejections of its stage).", ""]
    prev = None
    rows = []
    for k, v in f.items():
        lost = "" if prev is None else prev - v
        rows.append([FUNNEL_LABELS.get(k, k), v, lost])
        prev = v if k != "accepted" else prev
    L += table(["step", "left", "removed"], rows) + [""]
    if "funnel" in r.get("plots", {}):
        L += [f"![funnel]({r['plots']['funnel']})", ""]

    L += ["## Rejections", ""]
    if r["rejections"]:
        L += table(["stage", "reason", "count", "share", "example detail", "example"],
                    [[x["stage"], x["reason"], x["count"], f"{x['share']:.0%}",
                      (x["example"] or {}).get("detail", ""), _example(x["example"])] for x in r["rejections"]]) + [""]
        if "rejections" in r.get("plots", {}):
            L += [f"![rejections]({r['plots']['rejections']})", ""]
    else:
        L += ["No candidate was rejected.", ""]

    d = r["diversity"]
    L += ["## Diversity", ""]
    if d.get("n"):
        L += table(["metric", "value", "reads as"], [
            ["records", d["n"], ""],
            ["distinct-1 / 2 / 3", f"{d['distinct_1']:.3f} / {d['distinct_2']:.3f} / {d['distinct_3']:.3f}",
             "unique word n-grams / all (higher = more varied)"],
            ["compression ratio", d["compression_ratio"], "raw / gzip bytes (higher = more repetitive)"],
            [f"self-BLEU (sample {d['self_bleu_sample']})", d["self_bleu"], "0..1, lower = more varied"],
            ["near-duplicate rate", d["near_duplicate_rate"], "share repeating an earlier record (Jaccard >= 0.8)"],
            ["mean pairwise embedding distance", d.get("mean_pairwise_distance"), "1 - mean cosine (higher = more varied)"],
            ["Vendi score", d.get("vendi_score"), f"effective number of distinct records (of {d.get('embedded', d['n'])})"],
        ]) + [""]
        L += [f"Embeddings: {d.get('embedding') or d.get('note', '—')}.", ""]
    else:
        L += ["No accepted records.", ""]

    dist = r["distributions"]
    L += ["## Distributions", "", "### Length", ""]
    lc, lw = dist["length_chars"], dist["length_words"]
    if lc.get("n"):
        L += table(["", "min", "p10", "median", "mean", "p90", "max"],
                    [["characters", *(lc[k] for k in ("min", "p10", "median", "mean", "p90", "max"))],
                     ["words", *(lw[k] for k in ("min", "p10", "median", "mean", "p90", "max"))]]) + [""]
    if "lengths" in r.get("plots", {}):
        L += [f"![lengths]({r['plots']['lengths']})", ""]
    if dist.get("attributes"):
        L += ["### Attribute coverage", ""]
        for axis, info in dist["attributes"].items():
            L += [f"**{md(axis)}**" + (f" — never produced: {md(', '.join(map(str, info['missing'])))}"
                                       if info["missing"] else ""), ""]
            L += table(["value", "count", "share", "target"],
                        [[v, x["count"], f"{x['share']:.0%}",
                          "—" if x["target_share"] is None else f"{x['target_share']:.0%}"]
                         for v, x in info["values"].items()]) + [""]
        if "attributes" in r.get("plots", {}):
            L += [f"![attributes]({r['plots']['attributes']})", ""]
    L += variety_markdown(dist.get("samplers") or {}, md, table, r.get("plots", {}).get("samplers"))
    lab = dist.get("labels")
    if lab:
        L += ["### Labels", "", f"Label field `{lab['field']}`; independent check agreed on {lab['agreed']} of "
              f"{lab['checked']} checked (agreement rate {fmt(lab['agreement_rate'])}; disagreements "
              f"{'rejected' if lab['action'] == 'reject' else 'kept and flagged'}).", ""]
        L += table(["label", "count", "share", "target"],
                    [[v, x["count"], f"{x['share']:.0%}", "—" if x["target_share"] is None else f"{x['target_share']:.0%}"]
                     for v, x in lab["distribution"].items()]) + [""]
        if "labels" in r.get("plots", {}):
            L += [f"![labels]({r['plots']['labels']})", ""]
    js = dist.get("judge_scores")
    if js:
        L += ["### Judge scores", ""]
        L += table(["score", "accepted", "rejected"], [[k, v["accepted"], v["rejected"]] for k, v in js["histogram"].items()])
        L += ["", f"Mean score of accepted records: {fmt(js['accepted'].get('mean'), 2)}.", ""]
        if "judge_scores" in r.get("plots", {}):
            L += [f"![judge scores]({r['plots']['judge_scores']})", ""]
    from .report_signals import signals_markdown

    L += signals_markdown(dist.get("signals"), r.get("plots", {}).get("signals"))

    from .compare_md import render_labels, render_reference

    L += render_labels(r.get("classification")) + render_reference(r.get("reference"), r.get("plots", {}))
    from .report_decontaminate import decontamination_markdown

    L += decontamination_markdown(r.get("decontamination"))
    from .report_conversation import conversation_markdown

    L += conversation_markdown(r.get("conversation"))
    from .report_preference import preference_markdown

    L += preference_markdown(r.get("preference"))
    c = r["cost"]
    t = c["totals"]
    L += ["## Cost", ""]
    priced = (c.get("money") or {}).get("total") is not None
    from ..engine.cost import money as _money

    L += table(["model", "purpose", "calls", "cache hits", "tokens in", "tokens out"] + (["cost"] if priced else []),
                [[u["model"], u["purpose"], u["calls"], u["cache_hits"], u["prompt_tokens"], u["completion_tokens"]]
                 + ([_money(u["cost"]) if u.get("cost") is not None else "unpriced"] if priced else [])
                 for u in c["by_model_and_purpose"]] + [[Md("**total**"), "", t["calls"], t["cache_hits"], t["prompt_tokens"],
                                                         t["completion_tokens"]]
                                                        + ([Md(f"**{_money(c['money']['total'])}**")] if priced else [])]) + [""]
    if priced:
        L += ["Cost by purpose: " + ", ".join(f"{k} {_money(v)}" for k, v in c["money"]["by_purpose"].items())
              + f"; {_money(c.get('cost_per_accepted'))} per accepted record (prices per million tokens: "
              + "; ".join(f"`{m}` in {p['input']:g} / out {p['output']:g}" for m, p in c["money"]["prices"].items())
              + ").", ""]
    b = c.get("batches")
    if b:  # batch_api (docs/batch-api.md): batch calls are the `...-batch` models above, at the batch price
        L += [f"Batch API: {b['batches']} batch(es) of {b['requests']} requests in all ("
              + ", ".join(f"{n} {k}" for k, n in sorted(b["by_state"].items())) + ")"
              + ("; asked again: " + ", ".join(f"{n} {r}" for r, n in sorted(b["retried"].items()))
                 if b["retried"] else "") + ".", ""]
    for row in c.get("concurrency") or []:
        L += [f"Adaptive concurrency of `{row['model']}`: ceiling {row['max']}, at the end {row['limit']}, "
              f"lowest {row['lowest']}; cut {row['cuts']} time(s) on 429/503/504/timeouts, "
              f"paused {fmt(row['paused_s'], 1)} s for Retry-After.", ""]
    L += [f"Wall time {fmt(c['wall_s'], 1)} s; {fmt(c['records_per_s'], 3)} accepted records/s; "
          f"{fmt(c['completion_tokens_per_accepted'], 1)} completion tokens per accepted record; "
          f"cache hit rate {fmt(c['cache_hit_rate'])}.", ""]
    if r.get("review"):
        from ..review.calibrate import calibration_markdown

        L += calibration_markdown(r["review"]["calibration"], r["review"]["summary"])
    return "\n".join(L)
