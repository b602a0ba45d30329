"""Train a student from data and load one back: the entry points the CLI and the Python API share.

    train_classifier(data, out)     -> TrainSummary   (MiniLM + logistic regression)
    train_lora(data, out)           -> TrainSummary   (see lora.py)
    load_student(folder)            -> ClassifierStudent | LoraStudent
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .data import LABEL_FIELDS, TEXT_FIELDS, labelled, load_data, pick_field
from .summary import TrainSummary

STUDENTS = ("classifier", "lora", "dpo")


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    from ..runs.writers import write_jsonl

    write_jsonl(rows, path)


def _classifier_card(student, source: str, counts: dict[str, int], scores: dict[str, Any]) -> str:
    from .metrics import headline

    lines = ["# Classifier student", "",
             f"MiniLM (all-MiniLM-L6-v2) sentence embeddings + logistic regression, trained by synthloom on `{source}`.",
             "", f"- text field: `{student.text_field}`, label field: `{student.label_field}`",
             f"- labels ({len(student.labels)}): {', '.join(student.labels)}",
             "- rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
             f"- hyperparameters: {json.dumps(student.info.get('hyperparameters', {}))}"]
    rows = student.info.get("label_rows") or {}
    if not rows.get("rows") and str(rows.get("from") or "").startswith("not found"):
        lines.append(f"- label descriptions: none, {rows['from']}")
    if rows.get("rows"):
        lines.append(f"- label descriptions: {rows['rows']} training rows, one `name: description` per label "
                     f"(from {rows['from']}; `--labels none` leaves them out)")
    hp = student.info.get("hyperparameters", {})
    if hp.get("cv_macro_f1_by_C"):
        grid = ", ".join(f"C={c} {f:.3f}" for c, f in hp["cv_macro_f1_by_C"].items())
        lines.append(f"- regularisation: C={hp['C']:g}, chosen by {hp['cv_folds']}-fold cross-validation on the "
                     f"training rows (mean macro-F1: {grid}; the smallest C within one standard error of the best)")
    lines.append("")
    if scores:
        name, value = headline(scores)
        lines += [f"Held-out synthetic test split: {name} {value:.3f}, macro-F1 {scores['macro_f1']:.3f} "
                  f"(n={scores['n']}). Synthetic data scores high; score your own real data with "
                  "`synthloom evaluate`.", ""]
    lines += ["```python", "import synthloom", "student = synthloom.load_student('THIS_FOLDER')",
              "student.predict(['some text'])", "```", ""]
    return "\n".join(lines)


def train_classifier(data: str | Path, out: str | Path, *, text_field: str | None = None,
                     label_field: str | None = None, split: str = "0.8,0,0.2", min_per_label: int = 5,
                     c: float | None = None, class_weight: str | None = "balanced", seed: int = 0,
                     embedder_path: str | None = None, label_set: str | Path | None = None) -> TrainSummary:
    """Fit MiniLM + logistic regression on a run folder or JSONL/CSV file; hold out a test split and score it.

    `c` None: the regularisation is chosen by stratified cross-validation on the training rows (macro-F1).
    `label_set`: a label set file (names and descriptions) whose "name: description" joins the training rows, one
    row per label of the data; None: the label set of the run that made the data, when it can be found;
    "none": no such rows."""
    from ..export.splits import parse_ratios, split_rows
    from .classifier import ClassifierStudent
    from .metrics import label_scores

    rows, _manifest, where = load_data(data)
    if not rows:
        raise UsageError(f"{where}: no records to train on")
    tf = pick_field(rows, text_field, TEXT_FIELDS, "text", "--text-field", where)
    lf = pick_field(rows, label_field, LABEL_FIELDS, "label", "--label-field", where)
    texts, labels = labelled(rows, tf, lf, where)
    counts = Counter(labels)
    few = {k: v for k, v in counts.items() if v < min_per_label}
    if few:
        shown = ", ".join(f"{k!r} ({v})" for k, v in sorted(few.items(), key=lambda kv: kv[1]))
        raise UsageError(f"{where}: each label needs at least {min_per_label} examples; too few for {shown}: "
                         "generate more for these labels, drop them, or lower --min-per-label")
    ratios = parse_ratios(split)
    pairs = [{"text": t, "label": lab} for t, lab in zip(texts, labels)]
    parts = split_rows(pairs, ratios, seed=seed, stratify="label", text_of=lambda r: r["text"])
    for name in ratios:
        if not parts.get(name):
            raise UsageError(f"{where}: the {name} split has no rows ({len(rows)} records, --split {split}); "
                             "give more records or a larger share to that split")
    train = parts["train"]
    described, source = label_rows(label_set, _manifest, where, set(counts))
    train = train + described
    student = ClassifierStudent.fit([r["text"] for r in train], [r["label"] for r in train], c=c,
                                    class_weight=class_weight, embedder_path=embedder_path, text_field="text",
                                    label_field="label", seed=seed)
    out = Path(out)
    scores: dict[str, Any] = {}
    files: dict[str, str] = {}
    heldout = parts.get("test") or parts.get("validation") or []
    out.mkdir(parents=True, exist_ok=True)
    if heldout:
        pred = student.predict([r["text"] for r in heldout])
        scores = label_scores([r["label"] for r in heldout], pred)
        name = "test" if parts.get("test") else "validation"
        _write_jsonl(heldout, out / f"{name}.jsonl")
        files[name] = str(out / f"{name}.jsonl")
    counts_by_split = {k: len(v) for k, v in parts.items()}
    student.info.update({"source": str(data), "splits": counts_by_split, "heldout_scores": _brief(scores),
                         "label_rows": {"rows": len(described), "from": source}})
    student.save(out, card=_classifier_card(student, str(data), counts_by_split, scores))
    files.update(student="student.json", head="head.npz", card="README.md")
    return TrainSummary(out, "classifier", counts_by_split, scores, files)


def label_rows(labels: Any, manifest: dict[str, Any], where: Path,
               names: set[str]) -> tuple[list[dict[str, str]], str | None]:
    """One training row per label of the data, its name as words and its description ("renew loan: The patron
    wants more time ..."), as the label check represents a label (`quality.label_fit.label_texts`), and where
    the label set came from. On a 20-label library set with descriptions only, 160 generated rows gave 0.658 on
    400 hand-written messages, 0.698 with these 20 rows (80 rows: 0.598 -> 0.648); on a driving school's set
    with examples, 0.843 both ways (docs/benchmarks_junk.md)."""
    from ..quality.label_fit import label_texts
    from ..sources.labels import load_label_set

    if isinstance(labels, str) and labels.lower() == "none":
        return [], None
    if labels is not None:
        label_set = load_label_set(labels)  # a bad file is a clear error naming it
        source = str(labels) if isinstance(labels, (str, Path)) else "the recipe's label set"
    else:
        given = ((manifest.get("recipe") or {}).get("generate") or {}).get("labels")
        if not given:
            return [], None
        label_set, source = None, "the run's recipe"
        for base in (None, Path(where).parent):
            try:
                label_set = load_label_set(given, base)
                source = str(given) if isinstance(given, str) else source
                break
            except Exception:  # moved or inline in another form: the rows are a help, not a need
                continue
        if label_set is None:
            return [], f"not found: the run's label set {given!r} (`--labels FILE` adds it)"
    rows = [{"text": label_texts(lab)[0], "label": lab.name} for lab in label_set.labels
            if lab.name in names and lab.description]
    return rows, source if rows else None


def _brief(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scores.items() if k in ("n", "accuracy", "macro_f1", "f1", "precision", "recall", "rouge_l")}


def student_kind(folder: str | Path) -> str:
    p = Path(folder)
    meta = p / "student.json"
    if not meta.is_file():
        if (p / "adapter_config.json").is_file():
            return "lora"
        raise UsageError(f"{p}: not a student folder (no student.json); give the folder `synthloom train -o` wrote")
    return json.loads(meta.read_text(encoding="utf-8")).get("kind", "")


def load_student(folder: str | Path):
    """A trained student from its folder: `.predict(texts)` for a classifier, `.generate(messages)` for LoRA."""
    kind = student_kind(folder)
    if kind == "classifier":
        from .classifier import ClassifierStudent

        return ClassifierStudent.load(folder)
    if kind in ("lora", "dpo"):  # a DPO student is a LoRA adapter too (train/dpo.py)
        from .lora import LoraStudent

        return LoraStudent.load(folder)
    raise UsageError(f"{folder}: unknown student kind {kind!r} in student.json (known: {', '.join(STUDENTS)})")
