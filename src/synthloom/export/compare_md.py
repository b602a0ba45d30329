"""Markdown and plots for the labelled-text sections (export/compare.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .figures import BLUE, GREY, RED, figure, save
from .markdown import fmt, table


def _short(text: Any, n: int = 110) -> str:
    t = " ".join(str(text or "").split())
    return t[:n] + ("…" if len(t) > n else "")


def render_labels(sec: dict[str, Any] | None) -> list[str]:
    if not sec:
        return []
    L = ["## Labels: target, produced, accepted, verification", "",
         f"Field `{sec['label_field']}`. An independent pass (another prompt, temperature 0, never shown the intended "
         f"label) agreed on {fmt(sec['agreement'])} of {sec['checked']} checked texts.", ""]
    L += table(["label", "target", "produced", "accepted", "kept", "agreement", "rejected (stage:reason)"],
                [[lab, r["target"], r["produced"], r["accepted"], r.get("kept"), r["agreement"],
                  ", ".join(f"{k} {v}" for k, v in r["rejected"].items()) or "—"] for lab, r in sec["labels"].items()])
    L.append("")
    if sec.get("hard_cases"):
        L += ["Hard cases accepted: " + ", ".join(f"{k} {v}" for k, v in sec["hard_cases"].items()) + ".", ""]
    if sec.get("operations"):
        L += ["Operations accepted: " + ", ".join(f"{k} {v}" for k, v in sec["operations"].items()) + ".", ""]
    kept = [(lab, t) for lab, r in sec["labels"].items() for t in r.get("examples", [])]
    if kept:
        L += ["Accepted texts, up to five per label (read them: a label's data is only as good as these):", ""]
        L += table(["label", "text"], [[lab, _short(t)] for lab, t in kept]) + [""]
    ex = [(lab, e) for lab, r in sec["labels"].items() for e in r["rejected_examples"]]
    if ex:
        L += ["Examples of rejected texts:", ""]
        L += table(["label", "reason", "predicted", "text"], [[lab, e["reason"], e.get("predicted"), _short(e["text"])]
                                                               for lab, e in ex]) + [""]
    return L


def render_reference(sec: dict[str, Any] | None, plots: dict[str, str]) -> list[str]:
    if not sec:
        return []
    L = ["## Synthetic vs real", ""]
    if "error" in sec:
        return L + [sec["error"], ""]
    L += [f"{sec['n_synthetic']} synthetic records against {sec['n_real']} real ones (`{sec['path']}`).", ""]
    emb = sec.get("embedding")
    rows = []
    if sec.get("labels"):
        rows.append(["label distribution: total variation distance", sec["labels"]["total_variation"], "0 = same shares"])
    if sec.get("length_words"):
        lw = sec["length_words"]
        rows.append(["length in words: Kolmogorov-Smirnov statistic", lw["ks_statistic"],
                     f"p = {fmt(lw['ks_pvalue'])}; mean {fmt(lw['synthetic'].get('mean'), 1)} synthetic vs "
                     f"{fmt(lw['real'].get('mean'), 1)} real"])
    if sec.get("vocabulary"):
        v = sec["vocabulary"]
        rows.append(["real vocabulary covered", v["real_vocabulary_covered"],
                     f"synthetic tokens in the real vocabulary {fmt(v['synthetic_tokens_in_real_vocabulary'])}; Jaccard {fmt(v['jaccard'])}"])
    if emb:
        rows.append(["k-NN precision (synthetic inside real balls)", emb["knn_precision"], emb["embedder"]])
        rows.append(["k-NN recall (real inside synthetic balls)", emb["knn_recall"], ""])
        rows.append(["two-sample AUC (real vs synthetic)", emb["two_sample_auc"], "0.5 = indistinguishable, 1 = fully separable"])
    L += table(["measure", "value", "note"], rows) + [""]
    if sec.get("labels"):
        L += table(["label", "synthetic share", "real share"],
                    [[k, f"{v['synthetic']:.0%}", f"{v['real']:.0%}"] for k, v in sec["labels"]["shares"].items()]) + [""]
    near = sec["nearest_real"]
    L += ["### Nearest real record (privacy)", "",
          f"Word 4-gram overlap with the closest real record: median {fmt(near['ngram_overlap'].get('p50'))}, "
          f"90th percentile {fmt(near['ngram_overlap'].get('p90'))}, max {fmt(near['ngram_overlap'].get('max'))}; "
          f"{near['above_max_overlap']} accepted record(s) above the near-copy threshold {near['max_overlap']}."]
    if near.get("cosine"):
        c = near["cosine"]
        L += [f"Embedding cosine similarity to the closest real record: median {fmt(c.get('p50'))}, "
              f"90th percentile {fmt(c.get('p90'))}, max {fmt(c.get('max'))}. Closest pair: "
              f"\"{_short(near['closest_pair']['synthetic'])}\" / \"{_short(near['closest_pair']['real'])}\"."]
    pii = sec.get("pii_flagged") or {}
    if pii.get("records"):
        L += [f"PII flagged in {pii['records']} accepted record(s): " + ", ".join(f"{k} {v}" for k, v in pii["by_kind"].items()) + "."]
    L.append("")
    for name in ("compare_lengths", "compare_similarity"):
        if name in plots:
            L += [f"![{name}]({plots[name]})", ""]
    return L


def compare_plots(sec: dict[str, Any] | None, out: Path) -> dict[str, Path]:
    if not sec or "error" in sec:
        return {}
    plots: dict[str, Path] = {}
    s, r = sec["lengths"]["synthetic"], sec["lengths"]["real"]
    if s and r:
        fig = figure(6.5, 3.2)
        ax = fig.add_subplot()
        top = max(max(s), max(r)) + 1
        bins = list(range(0, top + 2, max(1, top // 25)))
        ax.hist(r, bins=bins, alpha=0.6, color=GREY, label=f"real (n={len(r)})", density=True)
        ax.hist(s, bins=bins, alpha=0.6, color=BLUE, label=f"synthetic (n={len(s)})", density=True)
        ax.set_xlabel("words per text")
        ax.set_title(f"Length: KS statistic {sec['length_words']['ks_statistic']}")
        ax.legend()
        plots["compare_lengths"] = save(fig, out / "compare_lengths.png")
    cos = sec["nearest_real"].get("cosine_values")
    if cos:
        fig = figure(6.5, 3.2)
        ax = fig.add_subplot()
        ax.hist(cos, bins=20, range=(0, 1), color=BLUE)
        ax.axvline(max(cos), color=RED, linestyle="--", label=f"max {max(cos):.3f}")
        ax.set_xlabel("cosine similarity to the closest real record")
        ax.set_title("Nearest real record, per synthetic record")
        ax.legend()
        plots["compare_similarity"] = save(fig, out / "compare_similarity.png")
    return plots
