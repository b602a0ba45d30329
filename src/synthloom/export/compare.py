"""Labelled-text sections of the report: per-label yield and verification, and synthetic vs real.

`label_section` answers "are the labels right?" per label: target, produced, accepted,
verification agreement, examples of rejected ones. `compare_to_reference` answers "does it
look like my real data?": label shares (total variation distance), length distributions
(two-sample Kolmogorov-Smirnov), vocabulary overlap, coverage in embedding space (k-NN
precision and recall), a classifier two-sample test (cross-validated AUC of a logistic
regression told to separate real from synthetic; 0.5 = indistinguishable), and the
nearest-real-record similarity of every synthetic record (no real record reproduced).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from ..records import Record, Rejection

LABELLED_TECHNIQUES = ("classification", "augment")


def _pct(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    return float(s[min(len(s) - 1, int(round(p * (len(s) - 1))))]) if s else 0.0


def _summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "mean": round(sum(values) / len(values), 4), "p50": round(_pct(values, 0.5), 4),
            "p90": round(_pct(values, 0.9), 4), "max": round(max(values), 4)}


def _labels_of(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)] if value is not None else []


def label_section(records: list[Record], rejections: list[Rejection], generator: dict[str, Any],
                  examples_per_label: int = 2, recipe: dict[str, Any] | None = None,
                  accepted_examples: int = 5) -> dict[str, Any]:
    """Per label: target, produced (candidates written for it), accepted, the share kept, verification agreement,
    five accepted texts and a few rejected ones."""
    label_field = generator.get("label_field", "label")
    text_field = generator.get("text_field", "text")
    targets: dict[str, int] = generator.get("targets") or {}
    names = list(generator.get("labels") or targets)
    gen_cfg = (recipe or {}).get("generate") or {}
    if not targets and names and gen_cfg.get("technique") == "classification" and (recipe or {}).get("count"):
        from ..sources.labels import target_counts  # a run replayed whole from the store never set them

        targets = target_counts(names, recipe["count"], gen_cfg.get("distribution") or "balanced",
                                generator.get("weights"))

    def key(meta: dict[str, Any], data: dict[str, Any] | None) -> str | None:
        lab = meta.get("target_label")
        if lab is None and data is not None:
            labs = _labels_of(data.get(label_field))
            lab = labs[0] if labs else None
        return lab

    rows: dict[str, dict[str, Any]] = {}

    def row(lab: str) -> dict[str, Any]:
        if lab not in rows:
            rows[lab] = {"target": targets.get(lab), "produced": 0, "accepted": 0, "checked": 0, "agreed": 0,
                         "flagged": 0, "relabelled_in": 0, "rejected": Counter(), "rejected_examples": [],
                         "examples": []}
        return rows[lab]

    for lab in names:
        row(lab)
    for rec in records:
        r = row(key(rec.meta, rec.data) or "?")
        r["produced"] += 1
        r["accepted"] += 1
        if rec.meta.get("relabelled_from"):  # written for another label, kept with this one
            r["relabelled_in"] += 1
        if len(r["examples"]) < accepted_examples and isinstance(rec.data, dict):
            r["examples"].append(str(rec.data.get(text_field, "")))
        agrees = rec.meta.get("scores", {}).get("label_agrees")
        if agrees is not None:
            r["checked"] += 1
            r["agreed"] += bool(agrees)
            r["flagged"] += not agrees
    for rej in rejections:
        if rej.stage == "surplus":
            continue
        r = row(key(rej.meta, rej.data) or "?")
        r["produced"] += 1
        r["rejected"][f"{rej.stage}:{rej.reason}"] += 1
        if rej.stage == "label" and rej.reason == "label_mismatch":
            r["checked"] += 1
        if len(r["rejected_examples"]) < examples_per_label:
            text = (rej.data or {}).get(text_field) if rej.data else None
            r["rejected_examples"].append({"reason": rej.reason, "text": text if text is not None else (rej.raw or "")[:200],
                                           "predicted": rej.meta.get("scores", {}).get("label_predicted")})
    out = {}
    for lab, r in rows.items():
        out[lab] = {**r, "rejected": dict(r["rejected"]),
                    "agreement": round(r["agreed"] / r["checked"], 4) if r["checked"] else None,
                    "kept": round((r["accepted"] - r["relabelled_in"]) / r["produced"], 4) if r["produced"] else None}
    checked = sum(r["checked"] for r in out.values())
    agreed = sum(r["agreed"] for r in out.values())
    hard = Counter(rec.meta.get("hard_case") for rec in records if rec.meta.get("hard_case"))
    return {"label_field": label_field, "text_field": text_field, "labels": out,
            "agreement": round(agreed / checked, 4) if checked else None, "checked": checked,
            "hard_cases": dict(hard), "operations": dict(Counter(rec.meta.get("operation") for rec in records
                                                                   if rec.meta.get("operation")))}


def _embedder() -> Any:
    from ..errors import MissingDependencyError
    from ..quality.embeddings import HashingEmbedder, make_embedder

    try:
        return make_embedder()
    except MissingDependencyError:
        return HashingEmbedder()


def knn_precision_recall(real, synth, k: int = 3) -> tuple[float | None, float | None]:
    """Improved precision/recall (Kynkaanniemi et al. 2019) on unit vectors: a synthetic point is
    'precise' inside some real point's k-NN ball, a real point is 'recalled' inside some synthetic one's."""
    import numpy as np

    def radii(x):
        if len(x) <= k:
            return None
        d = np.sqrt(np.maximum(0.0, 2 - 2 * (x @ x.T)))
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    def inside(points, centres, r):
        d = np.sqrt(np.maximum(0.0, 2 - 2 * (points @ centres.T)))
        return float(np.mean((d <= r[None, :]).any(axis=1)))

    rr, rs = radii(real), radii(synth)
    precision = inside(synth, real, rr) if rr is not None else None
    recall = inside(real, synth, rs) if rs is not None else None
    return precision, recall


def two_sample_auc(real, synth, seed: int = 0) -> float | None:
    """Cross-validated ROC AUC of a logistic regression separating real (0) from synthetic (1)."""
    import numpy as np

    n = min(len(real), len(synth))
    if n < 4:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.vstack([real, synth])
    y = np.array([0] * len(real) + [1] * len(synth))
    folds = StratifiedKFold(n_splits=min(5, n), shuffle=True, random_state=seed)
    proba = cross_val_predict(LogisticRegression(max_iter=1000, C=1.0, class_weight="balanced"), x, y, cv=folds,
                              method="predict_proba")[:, 1]
    return round(float(roc_auc_score(y, proba)), 4)


def compare_to_reference(synthetic: list[tuple[str, Any]], real: list[tuple[str, Any]], *,
                         max_overlap: float = 0.6, embedder: Any = "auto", seed: int = 0) -> dict[str, Any]:
    """Synthetic (text, label) pairs against real ones. Labels may be None (then no label section)."""
    import numpy as np
    from scipy.stats import ks_2samp

    from ..quality.reference import NgramIndex, words

    s_texts, r_texts = [t for t, _ in synthetic], [t for t, _ in real]
    out: dict[str, Any] = {"n_synthetic": len(s_texts), "n_real": len(r_texts)}
    s_labels = Counter(lab for _, v in synthetic for lab in _labels_of(v))
    r_labels = Counter(lab for _, v in real for lab in _labels_of(v))
    if s_labels and r_labels:
        ns, nr = sum(s_labels.values()), sum(r_labels.values())
        names = sorted(set(s_labels) | set(r_labels), key=lambda k: (-r_labels[k], k))
        shares = {k: {"synthetic": round(s_labels[k] / ns, 4), "real": round(r_labels[k] / nr, 4)} for k in names}
        out["labels"] = {"shares": shares,
                         "total_variation": round(0.5 * sum(abs(v["synthetic"] - v["real"]) for v in shares.values()), 4)}
    s_len = [len(words(t)) for t in s_texts]
    r_len = [len(words(t)) for t in r_texts]
    if s_len and r_len:
        ks = ks_2samp(s_len, r_len)
        out["length_words"] = {"synthetic": _summary(s_len), "real": _summary(r_len),
                               "ks_statistic": round(float(ks.statistic), 4), "ks_pvalue": round(float(ks.pvalue), 4)}
    s_tok = [w for t in s_texts for w in words(t)]
    v_s, v_r = set(s_tok), {w for t in r_texts for w in words(t)}
    if v_s and v_r:
        out["vocabulary"] = {"synthetic": len(v_s), "real": len(v_r), "jaccard": round(len(v_s & v_r) / len(v_s | v_r), 4),
                             "real_vocabulary_covered": round(len(v_s & v_r) / len(v_r), 4),
                             "synthetic_tokens_in_real_vocabulary": round(sum(w in v_r for w in s_tok) / len(s_tok), 4)}
    index = NgramIndex(r_texts)
    nearest = [index.nearest(t) for t in s_texts]
    overlaps = [o for o, _ in nearest]
    near: dict[str, Any] = {"ngram_overlap": _summary(overlaps), "above_max_overlap": sum(o > max_overlap for o in overlaps),
                            "max_overlap": max_overlap}
    if embedder == "auto":
        embedder = _embedder()
    if embedder is not None and s_texts and r_texts:
        es, er = np.asarray(embedder.embed(s_texts)), np.asarray(embedder.embed(r_texts))
        sims = es @ er.T
        best = sims.max(axis=1)
        near["cosine"] = _summary([float(x) for x in best])
        i = int(np.argmax(best))
        near["closest_pair"] = {"synthetic": s_texts[i], "real": r_texts[int(np.argmax(sims[i]))],
                                "cosine": round(float(best[i]), 4)}
        near["cosine_values"] = [round(float(x), 4) for x in best]
        precision, recall = knn_precision_recall(er, es)
        out["embedding"] = {"embedder": getattr(embedder, "identity", type(embedder).__name__),
                            "knn_precision": None if precision is None else round(precision, 4),
                            "knn_recall": None if recall is None else round(recall, 4),
                            "two_sample_auc": two_sample_auc(er, es, seed)}
    out["nearest_real"] = near
    out["lengths"] = {"synthetic": s_len, "real": r_len}
    return out


def resolve_reference(path: str, run_dir: Path, base_dir: str | None = None) -> Path | None:
    """The reference file of a recipe: relative to the recipe's folder (when the technique recorded it), else here."""
    p = Path(path)
    for cand in ([Path(base_dir) / p] if base_dir else []) + [p, Path(run_dir).parent / p]:
        if cand.is_file():
            return cand
    return None


def reference_section(records: list[Record], recipe: dict[str, Any], run_dir: Path, generator: dict[str, Any],
                      reference: str | Path | None = None, embedder: Any = "auto") -> dict[str, Any] | None:
    """The synthetic-vs-real section for a run with a `gate: reference` (or an explicit `reference` file)."""
    from ..errors import InputFileError
    from ..sources.labels import read_labelled

    gate = next((g for g in recipe.get("quality") or [] if g.get("gate") == "reference"), None)
    if gate is None and reference is None:
        return None
    gate = gate or {}
    text_field = gate.get("text_field", "text")
    real_label = gate.get("label_field", "label" if reference is not None else None)
    path = Path(reference) if reference is not None else resolve_reference(gate["path"], run_dir, generator.get("base_dir"))
    if path is None:
        return {"error": f"reference file {gate['path']!r} not found from here; run "
                         f"`synthloom compare {run_dir} --reference FILE`"}
    try:
        rows = read_labelled(path, text_field, None, what="reference sample")
    except InputFileError as exc:
        return {"error": str(exc)}
    syn_text = (gate.get("fields") or [generator.get("text_field", text_field)])[0]
    syn_label = generator.get("label_field", real_label)
    synthetic = [(str(r.data.get(syn_text, "")), r.data.get(syn_label) if syn_label else None) for r in records]
    real = [(r[text_field], r.get(real_label) if real_label else None) for r in rows]
    section = compare_to_reference(synthetic, real, max_overlap=gate.get("max_overlap", 0.6), embedder=embedder)
    section["path"] = str(path)
    pii = Counter(f["kind"] for r in records for f in r.meta.get("pii") or [])
    section["pii_flagged"] = {"records": sum(1 for r in records if r.meta.get("pii")), "by_kind": dict(pii)}
    return section


def generator_info(run_dir: Path) -> dict[str, Any]:
    try:
        from ..runs import read_manifest

        return read_manifest(run_dir).get("generator") or {}
    except (OSError, ValueError):
        return {}


def labelled_sections(records: list[Record], rejections: list[Rejection], recipe: dict[str, Any], run_dir: Path,
                      embedder: Any = "auto") -> dict[str, Any]:
    """The report's `classification` and `reference` keys, where they apply (empty for other runs)."""
    generator = generator_info(run_dir)
    out: dict[str, Any] = {}
    if (recipe.get("generate") or {}).get("technique") in LABELLED_TECHNIQUES:
        out["classification"] = label_section(records, rejections, generator, recipe=recipe)
    ref = reference_section(records, recipe, run_dir, generator, embedder=embedder if embedder is not None else "auto")
    if ref is not None:
        out["reference"] = ref
    return out


def class_label_of(run_dir: str | Path) -> tuple[str, list[str]] | None:
    """(label field, label names) of a single-label classification/augment run: the column an HF
    export types as `ClassLabel`. None for other runs."""
    gen = generator_info(Path(run_dir))
    if gen.get("technique") not in LABELLED_TECHNIQUES or gen.get("multi_label") or not gen.get("labels"):
        return None
    return gen.get("label_field", "label"), list(gen["labels"])


def is_labelled_run(run_dir: str | Path) -> bool:
    return Path(run_dir).is_dir() and generator_info(Path(run_dir)).get("technique") in LABELLED_TECHNIQUES
