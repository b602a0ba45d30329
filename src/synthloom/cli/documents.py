"""CLI for document-grounded data: `generate extract`, `generate documents`, `generate qa`, and `rag-export`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer


def _read_rows(path: Optional[Path], what: str) -> list[Any]:
    """Rows of a JSONL file, or the list in a JSON/YAML file."""
    from ..errors import InputFileError
    from ..userfiles import read_data, read_text

    if path is None:
        return []
    if path.suffix in (".yaml", ".yml", ".json"):
        value = read_data(path, f"{what} file")
        return value if isinstance(value, list) else [value]
    rows = []
    for n, line in enumerate(read_text(path, f"{what} file").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise InputFileError(f"{path}:{n}: not valid JSON ({exc}); give a JSONL file (one {what} per line) "
                                     "or a JSON/YAML list") from None
    return rows


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


def _run(name: str, count: int, generate: dict, engine: dict, model: dict, output: str, with_meta: bool,
         rejected: bool, rag_format: bool = False) -> None:
    from .common import console, run_from_flags

    summary = run_from_flags(name, count, generate, engine, model, output, with_meta, rejected)
    if rag_format:
        target = Path(summary.output_path or Path(output)).with_name("rag_eval.jsonl")
        n = export_rag(summary.run_dir, target)
        console.print(f"RAG evaluation rows: {n} -> {target}")
    if not summary.complete:
        raise typer.Exit(1)


def export_rag(run_dir: Path, target: Path) -> int:
    from ..generators.qa import write_rag_eval
    from ..runs import open_store

    with open_store(run_dir, "the run folder of a qa run") as store:
        records = [r for r in store.iter_accepted() if "question" in r.data and "answer" in r.data]
        return write_rag_eval(records, target)


def register(app: typer.Typer, generate_app: typer.Typer) -> None:
    from . import BackendOpt, BaseUrlOpt, DebugOpt, GgufOpt, KeyEnvOpt, ModelOpt, _parse_attributes, model_options
    from .common import cli_errors

    OutOpt = typer.Option("out", "-o", "--output", help="Output folder (gets data.jsonl, store.sqlite, manifest.json) or a .jsonl file.")
    DocsOpt = typer.Option(..., "--docs", help="Folder or file of documents: .txt .md .html .pdf .json .jsonl .docx.")
    TextFieldOpt = typer.Option("text", "--text-field", help=".json/.jsonl documents: the field holding the text.")
    ConcOpt = typer.Option(1, "--concurrency", help="Slots (candidates) in flight.")
    SeedOpt = typer.Option(0, "--seed", help="Run seed: the same seed replays from the cache.")
    AttemptsOpt = typer.Option(None, "--max-attempts", help="Give up after this many candidates (default 5 x n + 20).")
    MetaOpt = typer.Option(False, "--with-meta", help="Add each record's lineage under _meta.")
    RejOpt = typer.Option(False, "--rejected", help="Also write rejected candidates to rejected.jsonl.")
    EmitOpt = typer.Option("pair", "--emit", help="pair: {document, extraction|label}; messages: chat turns (system = schema, user = document, assistant = JSON).")

    def engine(concurrency: int, seed: int, max_attempts: Optional[int]) -> dict:
        return {"concurrency": concurrency, "seed": seed, **({"max_attempts": max_attempts} if max_attempts else {})}

    @generate_app.command("extract")
    def generate_extract(
        docs: str = DocsOpt,
        schema: str = typer.Option(..., "--schema", help="JSON schema of one extraction (.json/.yaml file)."),
        count: Optional[int] = typer.Option(None, "-n", "--count", help="Pairs to make (default: one per document chunk)."),
        output: str = OutOpt,
        instruction: Optional[str] = typer.Option(None, "--instruction", help="What to extract (default: the schema's description)."),
        examples: Optional[Path] = typer.Option(None, "--examples", help="Few-shot examples: JSONL of {document, extraction}."),
        rules: Optional[Path] = typer.Option(None, "--rules", help="Entity rules: a YAML/JSON list, e.g. [{rule: sum, items: 'items[].amount', total: total}]."),
        emit: str = EmitOpt,
        text_field: str = TextFieldOpt,
        chunk_size: int = typer.Option(3000, "--chunk-size", help="Largest chunk in characters; longer documents are split."),
        concurrency: int = ConcOpt, seed: int = SeedOpt, max_attempts: Optional[int] = AttemptsOpt,
        with_meta: bool = MetaOpt, rejected: bool = RejOpt,
        backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
        api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt, debug: bool = DebugOpt,
    ) -> None:
        """Extraction training pairs: the model extracts SCHEMA from each document; checked by schema and entity rules."""
        with cli_errors(debug):
            gen = {"technique": "extract", "docs": str(Path(docs).resolve()), "schema": str(Path(schema).resolve()),
                   "instruction": instruction, "examples": _read_rows(examples, "examples"),
                   "rules": _read_rows(rules, "rules"), "emit": emit, "text_field": text_field,
                   "chunking": {"size": chunk_size, "overlap": 0}}
            if count is None:
                from ..config.documents import ExtractTechnique
                from ..generators._grounded import corpus_for

                count = len(corpus_for(ExtractTechnique.model_validate(gen), Path.cwd(), "--docs").chunks)
            _run(Path(output).stem or "extract", count, gen, engine(concurrency, seed, max_attempts),
                 model_options(backend, base_url, model, api_key_env, gguf), output, with_meta, rejected)

    @generate_app.command("documents")
    def generate_documents(
        schema: str = typer.Option(..., "--schema", help="JSON schema of the ground truth (.json/.yaml file)."),
        count: int = typer.Option(20, "-n", "--count", help="(document, ground truth) pairs to make."),
        output: str = OutOpt,
        document_type: str = typer.Option("document", "--document-type", help="What to write: invoice, email, report, ..."),
        instruction: Optional[str] = typer.Option(None, "--instruction", help="Guidance for the ground-truth records."),
        attribute: list[str] = typer.Option([], "--attribute", "-a", help="Style axis, axis=v1,v2,... (repeatable)."),
        examples: Optional[Path] = typer.Option(None, "--examples", help="Few-shot examples: JSONL of {label, document}."),
        match: str = typer.Option("normalized", "--match", help="exact or normalized (case, spacing, number/date formats folded)."),
        reject_invented: str = typer.Option("date", "--reject-invented", help="Comma list of date,amount the document may not add; empty for none."),
        emit: str = EmitOpt,
        concurrency: int = ConcOpt, seed: int = SeedOpt, max_attempts: Optional[int] = AttemptsOpt,
        with_meta: bool = MetaOpt, rejected: bool = RejOpt,
        backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
        api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt, debug: bool = DebugOpt,
    ) -> None:
        """Documents with known ground truth: a record from SCHEMA, then a document that states exactly it."""
        with cli_errors(debug):
            gen = {"technique": "documents", "schema": str(Path(schema).resolve()), "document_type": document_type,
                   "instruction": instruction, "attributes": _parse_attributes(attribute),
                   "examples": _read_rows(examples, "examples"), "match": match, "emit": emit,
                   "reject_invented": [k.strip() for k in reject_invented.split(",") if k.strip()]}
            _run(Path(output).stem or "documents", count, gen, engine(concurrency, seed, max_attempts),
                 model_options(backend, base_url, model, api_key_env, gguf), output, with_meta, rejected)

    @generate_app.command("qa")
    def generate_qa(
        docs: str = DocsOpt,
        count: int = typer.Option(50, "-n", "--count", help="Question/answer rows to make."),
        output: str = OutOpt,
        kinds: str = typer.Option("factual=0.6,multi_hop=0.25,unanswerable=0.15", "--kinds", help="Shares of each kind of question."),
        persona: list[str] = typer.Option([], "--persona", help="Who asks (repeatable; default: a built-in list)."),
        no_judge: bool = typer.Option(False, "--no-judge", help="Skip the model's yes/no check that evidence supports each answer."),
        rag_format: bool = typer.Option(False, "--rag-format", help="Also write rag_eval.jsonl: question, ground_truth/reference, contexts."),
        text_field: str = TextFieldOpt,
        chunk_size: int = typer.Option(1200, "--chunk-size", help="Chunk size in characters."),
        chunk_overlap: int = typer.Option(100, "--chunk-overlap", help="Characters repeated between chunks."),
        concurrency: int = ConcOpt, seed: int = SeedOpt, max_attempts: Optional[int] = AttemptsOpt,
        with_meta: bool = MetaOpt, rejected: bool = RejOpt,
        backend: str = BackendOpt, base_url: Optional[str] = BaseUrlOpt, model: Optional[str] = ModelOpt,
        api_key_env: Optional[str] = KeyEnvOpt, gguf: Optional[str] = GgufOpt, debug: bool = DebugOpt,
    ) -> None:
        """A RAG evaluation set from a knowledge base: factual, multi-hop and unanswerable questions with evidence."""
        with cli_errors(debug):
            gen = {"technique": "qa", "docs": str(Path(docs).resolve()), "kinds": _kinds(kinds),
                   "judge": not no_judge, "text_field": text_field,
                   "chunking": {"size": chunk_size, "overlap": chunk_overlap}}
            if persona:
                gen["personas"] = persona
            _run(Path(output).stem or "qa", count, gen, engine(concurrency, seed, max_attempts),
                 model_options(backend, base_url, model, api_key_env, gguf), output, with_meta, rejected,
                 rag_format=rag_format)

    @app.command("rag-export")
    def rag_export(
        run_dir: Path = typer.Argument(..., help="Run folder of a qa run (holds store.sqlite)."),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="JSONL file (default: RUN_DIR/rag_eval.jsonl)."),
        debug: bool = DebugOpt,
    ) -> None:
        """Write a qa run's rows in the form RAG evaluators read: question, ground_truth/reference, contexts."""
        from .common import console

        with cli_errors(debug):
            target = output or run_dir / "rag_eval.jsonl"
            n = export_rag(run_dir, target)
            console.print(f"{n} rows -> {target}")
