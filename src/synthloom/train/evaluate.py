"""`evaluate`: a held-out file through a student, scored with a metric chosen from the data.

The report names where the data came from: the synthetic test split a student was trained next to, or
a file of the user's own (the honest test). Next to the student it scores the untrained student
(classifier: MiniLM zero-shot against the label names, and the majority label; LoRA: the base model)
so the gain from training is visible.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .data import TEXT_FIELDS, labelled, pick_field, read_rows
from .metrics import METRICS, comparison_row, headline, label_scores
from .students import load_student, student_kind


def data_kind(data: Path, student_dir: Path, given: str | None) -> str:
    if given:
        if given not in ("real", "synthetic"):
            raise UsageError(f"--data-kind must be real or synthetic (got {given!r})")
        return given
    inside = student_dir.resolve() in data.resolve().parents
    return "synthetic" if inside else "real"


def _classifier_eval(folder: Path, data: Path, text_field: str | None, label_field: str | None,
                     metric: str | None, baselines: bool) -> dict[str, Any]:
    from .classifier import zero_shot_predict

    if metric not in (None, "labels"):
        raise UsageError(f"--metric {metric}: a classifier student is scored with labels")
    student = load_student(folder)
    rows = read_rows(data)
    if not rows:
        raise UsageError(f"{data}: no records to evaluate")
    tf = pick_field(rows, text_field, (student.text_field, *TEXT_FIELDS), "text", "--text-field", data)
    lf = pick_field(rows, label_field, (student.label_field, "label", "intent", "category", "class"), "label",
                    "--label-field", data)
    texts, gold = labelled(rows, tf, lf, data)
    t0 = time.perf_counter()
    pred = student.predict(texts)
    secs = time.perf_counter() - t0
    scores = label_scores(gold, pred)
    unknown = sorted(set(gold) - set(student.labels))
    out: dict[str, Any] = {**scores, "kind": "classifier", "texts_per_s": len(texts) / secs if secs else None,
                           "unknown_labels": unknown}
    if baselines:
        zs = label_scores(gold, zero_shot_predict(texts, student.labels, student.embedder_path))
        major = Counter(student.info.get("train_label_counts") or {}).most_common(1)
        rows_out = {"untrained (MiniLM zero-shot on label names)": comparison_row(zs)}
        if major:
            rows_out[f"majority label ({major[0][0]})"] = comparison_row(label_scores(gold, [major[0][0]] * len(gold)))
        rows_out["trained student"] = comparison_row(scores)
        out["comparison"] = rows_out
    return out


def evaluate(model: str | Path, data: str | Path, *, text_field: str | None = None, label_field: str | None = None,
             metric: str | None = None, data_kind_: str | None = None, baselines: bool = True,
             limit: int | None = None, **lora_options: Any) -> dict[str, Any]:
    """Score a student folder on a JSONL/CSV file; returns the report as a dict (what `--json` writes)."""
    folder, data = Path(model), Path(data)
    if metric is not None and metric not in METRICS:
        raise UsageError(f"--metric must be one of {', '.join(METRICS)} (got {metric!r})")
    if folder.is_file() and data.is_file():  # tool calls: a `technique: tools` recipe, or a file of predicted calls
        from .tool_eval import tool_eval

        report = tool_eval(folder, data)
        report["data"] = {"path": str(data), "kind": data_kind(data, folder.parent, data_kind_)}
        report["model"] = str(folder)
        return report
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such student folder; give the folder `synthloom train -o` wrote")
    if not data.is_file():
        raise UsageError(f"{data}: no such file; give a JSONL or CSV file of labelled examples")
    kind = student_kind(folder)
    if kind == "classifier":
        report = _classifier_eval(folder, data, text_field, label_field, metric, baselines)
    elif kind == "dpo":  # held-out preference accuracy (train/dpo_eval.py)
        from .dpo_eval import dpo_eval

        report = dpo_eval(folder, data, baselines=baselines, limit=limit)
    else:
        from .lora_eval import lora_eval

        report = lora_eval(folder, data, metric=metric, baselines=baselines, limit=limit, **lora_options)
    report["data"] = {"path": str(data), "kind": data_kind(data, folder, data_kind_)}
    report["model"] = str(folder)
    return report


def report_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: data, headline, comparison table, per-label/per-field figures."""
    if report.get("metric") == "tool_calls":
        from .tool_eval import tool_markdown

        return tool_markdown(report)
    if report.get("metric") == "preference":
        from .dpo_eval import dpo_markdown

        return dpo_markdown(report)
    name, value = headline(report)
    src = report["data"]
    honest = ("synthetic held-out split: generated like the training data, so it flatters the student"
              if src["kind"] == "synthetic" else "real data (not generated): the honest test")
    lines = [f"# Evaluation of `{report['model']}`", "", f"- data: `{src['path']}` ({honest})",
             f"- n = {report['n']}; metric: {report['metric']}; {name} **{value:.3f}**"]
    if report["metric"] == "labels":
        lines.append(f"- macro-F1 **{report['macro_f1']:.3f}**")
    lines.append("")
    comp = report.get("comparison") or {}
    if comp:
        cols = [c for c in ("accuracy", "macro_f1", "f1", "precision", "recall", "exact", "parsed", "rouge_l",
                            "prompt_tokens_per_example", "tokens_per_s") if any(c in r for r in comp.values())]
        lines += ["| model | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for who, r in comp.items():
            cells = [(f"{r[c]:.3f}" if isinstance(r.get(c), float) and c not in ("prompt_tokens_per_example", "tokens_per_s")
                      else f"{r[c]:.1f}" if isinstance(r.get(c), float) else str(r.get(c, "")))
                     for c in cols]
            lines.append(f"| {who} | " + " | ".join(cells) + " |")
        lines.append("")
    per = report.get("per_label") or report.get("per_field") or {}
    if per:
        what = "label" if "per_label" in report else "field"
        lines += [f"| {what} | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for k, v in per.items():
            lines.append(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
        lines.append("")
    conf = report.get("confusion")
    if conf and len(conf) <= 20:
        labs = list(conf)
        lines += ["Confusion (rows: gold, columns: predicted)", "",
                  "| gold \\ pred | " + " | ".join(labs) + " |", "|---|" + "---:|" * len(labs)]
        for g in labs:
            lines.append(f"| {g} | " + " | ".join(str(conf[g][p]) for p in labs) + " |")
        lines.append("")
    return "\n".join(lines)


def write_report(report: dict[str, Any], json_path: str | Path | None = None,
                 md_path: str | Path | None = None) -> None:
    from ..userfiles import atomic_path

    for path, text in ((json_path, lambda: json.dumps(report, indent=2, ensure_ascii=False, default=str)),
                       (md_path, lambda: report_markdown(report))):
        if path:
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(p) as tmp:
                tmp.write_text(text(), encoding="utf-8")
