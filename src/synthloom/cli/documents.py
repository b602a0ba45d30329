"""CLI for document-grounded data: `generate extract`, `generate documents`, `generate qa`, and `rag-export`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from ..export.rag import export_rag
from .common import console, read_rows, run_from_flags
from .options import MODEL, RUN, OutputOpt, RulesOpt, RunFlags, command, csv_list, parse_attributes, parse_pair, resolved


def _kinds(spec: str) -> dict[str, float]:
    from ..errors import UsageError

    out: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, share = part.partition("=")
        try:
            out[name.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(f"--kinds {spec!r}: write it as factual=0.6,multi_hop=0.25,unanswerable=0.15")
    return out


DocsOpt = typer.Option(..., "--docs", help="Folder or file of documents: .txt .md .html .pdf .json .jsonl .docx.")
TextFieldOpt = typer.Option("text", "--text-field", help=".json/.jsonl documents: the field holding the text.")
EmitOpt = typer.Option("pair", "--emit", help="pair: {document, extraction|label}; messages: chat turns (system = schema, user = document, assistant = JSON).")


@command
def generate_extract(
    docs: str = DocsOpt,
    schema: str = typer.Option(..., "--schema", help="JSON schema of one extraction (.json/.yaml file)."),
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Pairs to make (default: one per document chunk)."),
    output: str = OutputOpt,
    instruction: Optional[str] = typer.Option(None, "--instruction", help="What to extract (default: the schema's description)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="Few-shot examples: JSONL of {document, extraction}."),
    rules: Optional[Path] = RulesOpt,
    emit: str = EmitOpt,
    text_field: str = TextFieldOpt,
    chunk_size: int = typer.Option(3000, "--chunk-size", help="Largest chunk in characters; longer documents are split."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Extraction training pairs: the model extracts SCHEMA from each document; checked by schema and entity rules."""
    gen = {"technique": "extract", "docs": resolved(docs), "schema": resolved(schema),
           "instruction": instruction, "examples": read_rows(examples, "examples"),
           "rules": read_rows(rules, "rules"), "emit": emit, "text_field": text_field,
           "chunking": {"size": chunk_size, "overlap": 0}}
    if count is None:
        from ..config.documents import ExtractTechnique
        from ..generators._grounded import corpus_for

        count = len(corpus_for(ExtractTechnique.model_validate(gen), Path.cwd(), "--docs").chunks)
    run_from_flags("extract", gen, count, output, run, model)


@command
def generate_documents(
    schema: str = typer.Option(..., "--schema", help="JSON schema of the ground truth (.json/.yaml file)."),
    count: int = typer.Option(20, "-n", "--count", help="(document, ground truth) pairs to make."),
    output: str = OutputOpt,
    document_type: str = typer.Option("document", "--document-type", help="What to write: invoice, email, report, ..."),
    instruction: Optional[str] = typer.Option(None, "--instruction", help="Guidance for the ground-truth records."),
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Style axis, axis=v1,v2,... (repeatable)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="Few-shot examples: JSONL of {label, document}."),
    match: str = typer.Option("normalized", "--match", help="exact or normalized (case, spacing, number/date formats folded)."),
    reject_invented: str = typer.Option("date", "--reject-invented", help="Comma list of date,amount the document may not add; empty for none."),
    emit: str = EmitOpt,
    rules: Optional[Path] = RulesOpt,
    name: list[str] = typer.Option([], "--name", help="A field whose value is drawn, not written: FIELD=person|business|id (repeatable)."),
    prompt_form: str = typer.Option("auto", "--prompt-form", help="auto, document (the examples as filled-in documents with {field} slots, continued by a base model) or chat (instructions and turns); auto: document for a base model without --attribute."),
    write_tries: Optional[int] = typer.Option(None, "--write-tries", help="Documents written for one record before it is given up (default 3 in the document form, 1 in chat)."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Documents with known ground truth: a record from SCHEMA, then a document that states exactly it."""
    gen = {"technique": "documents", "schema": resolved(schema), "document_type": document_type,
           "instruction": instruction, "attributes": parse_attributes(attribute),
           "examples": read_rows(examples, "examples"), "match": match, "emit": emit,
           "reject_invented": csv_list(reject_invented), "rules": read_rows(rules, "rules")}
    if name:
        gen["names"] = dict(parse_pair(n, "--name") for n in name)
    if prompt_form != "auto":
        gen["prompt_form"] = prompt_form
    if write_tries is not None:
        gen["write_tries"] = write_tries
    run_from_flags("documents", gen, count, output, run, model)


@command
def generate_qa(
    docs: str = DocsOpt,
    count: int = typer.Option(50, "-n", "--count", help="Question/answer rows to make."),
    output: str = OutputOpt,
    kinds: str = typer.Option("factual=0.6,multi_hop=0.25,unanswerable=0.15", "--kinds", help="Shares of each kind of question."),
    persona: list[str] = typer.Option([], "--persona", help="Who asks (repeatable; default: a built-in list)."),
    no_judge: bool = typer.Option(False, "--no-judge", help="Skip the model's yes/no check that evidence supports each answer."),
    rag_format: bool = typer.Option(False, "--rag-format", help="Also write rag_eval.jsonl: question, ground_truth/reference, contexts."),
    text_field: str = TextFieldOpt,
    chunk_size: int = typer.Option(1200, "--chunk-size", help="Chunk size in characters."),
    chunk_overlap: int = typer.Option(100, "--chunk-overlap", help="Characters repeated between chunks."),
    prompt_form: str = typer.Option("auto", "--prompt-form", help="Factual questions: auto, document (a reading-check sheet a base model continues) or chat (instructions and JSON turns); auto: document for a base model."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """A RAG evaluation set from a knowledge base: factual, multi-hop and unanswerable questions with evidence."""
    gen = {"technique": "qa", "docs": resolved(docs), "kinds": _kinds(kinds), "judge": not no_judge,
           "text_field": text_field, "chunking": {"size": chunk_size, "overlap": chunk_overlap}}
    if persona:
        gen["personas"] = persona
    if prompt_form != "auto":
        gen["prompt_form"] = prompt_form

    def rag_rows(summary) -> None:
        target = Path(summary.output_path or Path(output)).with_name("rag_eval.jsonl")
        console.print(f"RAG evaluation rows: {export_rag(summary.run_dir, target)} -> {target}")

    run_from_flags("qa", gen, count, output, run, model, then=rag_rows if rag_format else None)


@command
def rag_export(
    run_dir: Path = typer.Argument(..., help="Run folder of a qa run (holds store.sqlite)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="JSONL file (default: RUN_DIR/rag_eval.jsonl)."),
) -> None:
    """Write a qa run's rows in the form RAG evaluators read: question, ground_truth/reference, contexts."""
    target = output or run_dir / "rag_eval.jsonl"
    console.print(f"{export_rag(run_dir, target)} rows -> {target}")
