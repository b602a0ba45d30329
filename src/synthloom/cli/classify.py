"""CLI for labelled text: `generate classification`, `generate augment`, and `compare` (synthetic vs real)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .common import console, run_from_flags
from .options import MODEL, RUN, OutputOpt, RunFlags, command, csv_list, parse_attributes, resolved


def _distribution(spec: str) -> Any:
    from ..errors import UsageError

    if spec in ("balanced", "weights"):
        return spec
    out: dict[str, int] = {}
    for part in spec.split(","):
        name, sep, n = part.partition("=")
        if not sep or not name.strip() or not n.strip().isdigit():
            raise UsageError(f"--distribution {spec!r}: write balanced, weights, or label=count,... "
                             "(e.g. refund=30,cancel=10)")
        out[name.strip()] = int(n)
    return out


def _pairs(items: list[str]) -> list[list[str]]:
    from ..errors import UsageError

    out = []
    for item in items:
        parts = [p.strip() for p in item.split(",")]
        if len(parts) != 2 or not all(parts):
            raise UsageError(f"--boundary {item!r}: write two labels, A,B (an A text that uses B's words)")
        out.append(parts)
    return out


def _verify(mode: str) -> dict[str, Any]:
    from ..errors import UsageError

    if mode not in ("reject", "flag", "relabel", "off"):
        raise UsageError(f"--verify must be reject, flag, relabel or off (got {mode!r})")
    return {"enabled": False} if mode == "off" else {"action": mode}


def print_label_table(run_dir: Path) -> None:
    """Per label: target, produced, accepted, the share kept, verification agreement (what the report's section shows)."""
    from rich.table import Table

    from ..export.compare import generator_info, label_section
    from ..runs import open_store

    with open_store(run_dir) as store:
        info = store.run_info(None)
        records = store.accepted_records(info["run_id"])
        rejections = list(store.rejections(info["run_id"]))
    sec = label_section(records, rejections, generator_info(run_dir), recipe=info.get("recipe"))
    t = Table(title="labels", header_style="bold")
    for col in ("label", "target", "produced", "accepted", "kept", "agreement"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for lab, r in sec["labels"].items():
        agree = "—" if r["agreement"] is None else f"{r['agreement']:.0%} of {r['checked']}"
        kept = "—" if r.get("kept") is None else f"{r['kept']:.0%}"
        t.add_row(lab, "—" if r["target"] is None else str(r["target"]), str(r["produced"]), str(r["accepted"]), kept,
                  agree)
    console.print(t)


TextOpt = typer.Option("text", "--text-field", help="Field of the text (output, and the real data's).")
LabelOpt = typer.Option("label", "--label-field", help="Field of the label (output, and the real data's).")
VerifyOpt = typer.Option("reject", "--verify", help="Label verification by an independent pass (and the embedding check, "
                         "--checks relevant): reject, flag or relabel disagreements, or off.")
MaxCharsOpt = typer.Option(400, "--max-chars", help="Longest text; one that reaches it was cut and is rejected.")


def _reference_gates(path: Optional[str], text_field: str, label_field: str, **reference: Any) -> list[dict]:
    gates: list[dict] = [{"gate": "dedup", "method": "minhash", "fields": [text_field]}]
    if path:
        gates.append({"gate": "reference", "path": resolved(path), "text_field": text_field,
                      "label_field": label_field, **reference})
    return gates


@command
def generate_classification(
    labels: str = typer.Option(..., "--labels", help="Label set: a YAML file with name, description, examples, counter_examples per label."),
    count: int = typer.Option(50, "-n", "--count", help="Labelled texts to make."),
    output: str = OutputOpt,
    distribution: str = typer.Option("balanced", "--distribution", help="balanced, weights (each label's weight), or label=count,... adding up to -n."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Variety axis, axis=v1,v2,... (repeatable; replaces the default length/register/noise axes)."),
    boundary: list[str] = typer.Option([], "--boundary", help="Hard cases: A,B writes some A texts with B's vocabulary (repeatable)."),
    boundary_share: float = typer.Option(0.2, "--boundary-share", help="Share of a paired label's texts written as boundary cases."),
    out_of_scope: Optional[str] = typer.Option(None, "--out-of-scope", help="The label for texts that fit none of the others (negatives)."),
    multi_label: bool = typer.Option(False, "--multi-label", help="Several labels per text (the label field is a list)."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Real sample (JSONL/CSV): reject near-copies, flag PII, compare in the report."),
    verify: str = VerifyOpt, text_field: str = TextOpt, label_field: str = LabelOpt, max_chars: int = MaxCharsOpt,
    max_sentences: Optional[int] = typer.Option(None, "--max-sentences", help="Most sentences in a text, more is rejected (too_long; default: no limit)."),
    best_of: int = typer.Option(1, "--best-of", help="Candidates written per slot; the one likeliest under its label's description against the nearest other's (label PMI) is kept."),
    prompt_form: str = typer.Option("auto", "--prompt-form", help="auto, document (a list of messages under their labels' descriptions that a base model continues) or chat (instructions and JSON turns); auto: document for a base model."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Labelled texts for a classifier: the label first, then a text written for it, checked by an independent pass."""
    gen: dict[str, Any] = {
        "technique": "classification", "labels": resolved(labels),
        "distribution": _distribution(distribution), "verify": _verify(verify),
        "hard_cases": {"boundary": _pairs(boundary), "boundary_share": boundary_share, "out_of_scope": out_of_scope},
        "text_field": text_field, "label_field": label_field, "max_chars": max_chars}
    if max_sentences is not None:
        gen["max_sentences"] = max_sentences
    if best_of != 1:
        gen["best_of"] = best_of
    if prompt_form != "auto":
        gen["prompt_form"] = prompt_form
    if multi_label:
        gen["multi_label"] = True
    if attribute:
        gen["attributes"] = parse_attributes(attribute)
    run_from_flags("classification", gen, count, output, run, model,
                   quality=_reference_gates(reference, text_field, label_field),
                   then=lambda summary: print_label_table(summary.run_dir))


@command
def generate_augment(
    data: str = typer.Option(..., "--data", help="The real labelled file: JSONL or CSV with the text and label fields."),
    count: int = typer.Option(50, "-n", "--count", help="Variations to make."),
    output: str = OutputOpt,
    labels: Optional[str] = typer.Option(None, "--labels", help="Optional label set (YAML): descriptions help the label checker."),
    operations: Optional[str] = typer.Option(None, "--operations",
                                             help="Comma list of paraphrase, register, length, entities, typos, translate (default: paraphrase,register,length,entities,typos; for a base model in the document form paraphrase,entities,typos)."),
    translate_via: str = typer.Option("German", "--translate-via", help="translate: the language of the round trip."),
    max_overlap: float = typer.Option(0.6, "--max-overlap", help="Reject a variation sharing more of its word 4-grams with a real row."),
    verify: str = VerifyOpt, text_field: str = TextOpt, label_field: str = LabelOpt, max_chars: int = MaxCharsOpt,
    prompt_form: str = typer.Option("auto", "--prompt-form", help="auto, document (the label's real rows as a list a base model continues; paraphrase, entities, typos) or chat (an instruction and a JSON answer); auto: document for a base model."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Variations of real labelled rows that keep the label, never a near-copy of a real row; compared with the real data."""
    gen: dict[str, Any] = {
        "technique": "augment", "data": resolved(data),
        "translate_via": translate_via, "max_overlap": max_overlap, "verify": _verify(verify),
        "text_field": text_field, "label_field": label_field, "max_chars": max_chars}
    if labels:
        gen["labels"] = resolved(labels)
    if operations is not None:
        gen["operations"] = csv_list(operations)
    if prompt_form != "auto":
        gen["prompt_form"] = prompt_form
    run_from_flags("augment", gen, count, output, run, model,
                   quality=_reference_gates(data, text_field, label_field, max_overlap=max_overlap),
                   then=lambda summary: print_label_table(summary.run_dir))


@command
def compare(
    run_dir: Path = typer.Argument(..., help="Run folder (holds store.sqlite)."),
    reference: Path = typer.Option(..., "--reference", help="The real sample: JSONL or CSV."),
    text_field: str = typer.Option("text", "--text-field", help="Field of the text in the real sample and the records."),
    label_field: Optional[str] = typer.Option("label", "--label-field", help="Field of the label (empty: no label comparison)."),
) -> None:
    """Synthetic vs real: label shares, lengths (KS), vocabulary, k-NN coverage, two-sample AUC, nearest-real similarity."""
    paths = write_comparison(run_dir, reference, text_field, label_field or None)
    console.print(f"comparison: {paths['markdown']}  (data in {paths['json'].name})")


def write_comparison(run_dir: Path, reference: Path, text_field: str, label_field: Optional[str]) -> dict[str, Path]:
    import json

    from ..errors import InputFileError
    from ..export.compare import generator_info, reference_section
    from ..export.compare_md import compare_plots, render_reference
    from ..runs import open_store
    from ..userfiles import atomic_path

    with open_store(run_dir, "the folder of a run") as store:
        info = store.run_info(None)
        records = store.accepted_records(info["run_id"])
    gen = generator_info(run_dir)
    gen = {**gen, "text_field": gen.get("text_field", text_field), "label_field": gen.get("label_field", label_field)}
    recipe = {"quality": [{"gate": "reference", "path": str(reference), "text_field": text_field,
                           "label_field": label_field}]}
    sec = reference_section(records, recipe, Path(run_dir), gen, reference=reference)
    if sec and "error" in sec:
        raise InputFileError(sec["error"])
    out = Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    plots = compare_plots(sec, out)
    with atomic_path(out / "compare.json") as tmp:
        tmp.write_text(json.dumps(sec, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    with atomic_path(out / "compare.md") as tmp:
        tmp.write_text("\n".join(render_reference(sec, {k: p.name for k, p in plots.items()})), encoding="utf-8")
    return {"markdown": out / "compare.md", "json": out / "compare.json", **plots}
