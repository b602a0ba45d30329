"""CLI for red-team sets and multilingual data: `generate redteam`, `generate translate`,
`redteam` (run a set against a target) and `redteam-export` (promptfoo test cases)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console, progress_bar, run_from_flags
from .options import MODEL, RUN, OutputOpt, RunFlags, SeedOpt, command, csv_list, model_config, resolved


def export_promptfoo(run_dir: Path, target: Path) -> int:
    from ..engine.redteam_run import load_cases
    from ..export.redteam_report import write_promptfoo

    return write_promptfoo(load_cases(run_dir).cases, target)


def print_adversarial_report(run_dir: Path) -> None:
    """Per kind: made, verified, fooled; also written to RUN_DIR/adversarial_report.json."""
    import json

    from rich.table import Table

    from ..generators.adversarial import adversarial_report
    from ..runs import open_store

    with open_store(run_dir) as store:
        report = adversarial_report(store.iter_accepted())
    (Path(run_dir) / "adversarial_report.json").write_text(json.dumps(report, indent=2))
    t = Table(title="per kind", header_style="bold")
    for col in ("kind", "made", "verified", "probed", "fooled"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for kind, row in sorted(report.items()):
        t.add_row(kind, *(str(row[k]) for k in ("made", "verified", "probed", "fooled")))
    console.print(t)


@command
def generate_redteam(
    system: str = typer.Option(..., "--system", help="The system under test: a .md/.txt file (purpose, rules, what it must never do) or the text inline."),
    count: int = typer.Option(2, "-n", "--count", help="Cases per category."),
    output: str = OutputOpt,
    categories: Optional[str] = typer.Option(None, "--categories", help="Comma list of built-in categories (default: all ten)."),
    strategies: str = typer.Option("none", "--strategies", help="Comma list of strategies, each a name or a composition: none, roleplay, hypothetical, base64, leetspeak, rot13, typos, language, multi_turn, document, e.g. none,roleplay+base64."),
    languages: str = typer.Option("fr,de,es", "--languages", help="Languages for the `language` strategy."),
    no_judge: bool = typer.Option(False, "--no-judge", help="Skip the model's check that each case really is an attack."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """A red-team set for an LLM application: attacks per OWASP-mapped category, strategies on top; also writes promptfoo-tests.yaml."""
    from ..config.redteam import RedteamTechnique
    from ..generators.redteam import categories_of

    gen = {"technique": "redteam", "system": resolved(system) if Path(system).is_file() else system,
           "strategies": csv_list(strategies), "languages": csv_list(languages), "judge": not no_judge}
    if categories:
        gen["categories"] = csv_list(categories)
    n_cat = len(categories_of(RedteamTechnique.model_validate(gen)))

    def promptfoo(summary) -> None:
        target = summary.run_dir / "promptfoo-tests.yaml"
        n = export_promptfoo(summary.run_dir, target) if summary.accepted else 0
        console.print(f"promptfoo test cases: {n} -> {target}")

    run_from_flags("redteam", gen, count * n_cat, output, run, model, then=promptfoo)


@command
def generate_translate(
    input: str = typer.Option(..., "--input", help="A JSONL file or a run directory to translate."),
    languages: str = typer.Option(..., "--languages", help="Target languages, ISO 639-1, e.g. de,fr,es."),
    fields: str = typer.Option("text", "--fields", help="Comma list of the text fields to translate; the rest is copied."),
    output: str = OutputOpt,
    count: Optional[int] = typer.Option(None, "-n", "--count", help="Translations to make (default: every record into every language)."),
    source_language: str = typer.Option("en", "--source-language", help="Language of the source text."),
    keep: str = typer.Option("", "--keep", help="Comma list of terms that must stay unchanged (brand names)."),
    localize: bool = typer.Option(False, "--localize", help="Adapt names, currencies, units and dates to the locale."),
    back_translation: bool = typer.Option(False, "--back-translation", help="Also require back-translation similarity (MiniLM cosine)."),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="Field naming a source record in lineage (default: content id)."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Translate a dataset field by field, keeping labels and ids; every field's language, placeholders and numbers are checked."""
    from ..generators.translate import read_source

    src = resolved(input)
    gen = {"technique": "translate", "input": src, "languages": csv_list(languages), "fields": csv_list(fields),
           "source_language": source_language, "keep": csv_list(keep), "localize": localize,
           "back_translation": back_translation, "id_field": id_field}
    n = count if count is not None else len(read_source(src, Path.cwd())) * len(csv_list(languages))
    run_from_flags("translate", gen, n, output, run, model)


@command
def generate_adversarial(
    labels: str = typer.Option(..., "--labels", help="The label set: a YAML/JSON file (a list, or label: description) or a comma list."),
    task: str = typer.Option(..., "--task", help="What is classified, e.g. 'the intent of a customer support message'."),
    count: int = typer.Option(14, "-n", "--count", help="Hard examples to make."),
    output: str = OutputOpt,
    kinds: Optional[str] = typer.Option(None, "--kinds", help="Comma list of difficulty kinds (default: all seven)."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the independent pass that must predict the intended label."),
    classifier_base_url: Optional[str] = typer.Option(None, "--classifier-base-url", help="A classifier to attack: an OpenAI-compatible endpoint."),
    classifier_model: Optional[str] = typer.Option(None, "--classifier-model", help="Its model name."),
    keep_fooled: bool = typer.Option(False, "--keep-fooled", help="Keep only the examples the classifier gets wrong."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Hard examples for a classifier (ambiguity, sarcasm, negation, ...), label-verified; optionally attack a classifier."""
    from ..errors import UsageError

    label_value = resolved(labels) if Path(labels).is_file() else csv_list(labels)
    gen: dict = {"technique": "adversarial", "labels": label_value, "task": task, "verify": not no_verify}
    if kinds:
        gen["kinds"] = csv_list(kinds)
    if classifier_base_url or classifier_model:
        if not (classifier_base_url and classifier_model):
            raise UsageError("--classifier-base-url and --classifier-model go together")
        gen["classifier"] = {"base_url": classifier_base_url, "model": classifier_model,
                             "keep": "fooled" if keep_fooled else "all"}
    run_from_flags("adversarial", gen, count, output, run, model,
                   then=lambda summary: print_adversarial_report(summary.run_dir))


@command
def redteam(
    run_dir: Path = typer.Argument(..., help="A redteam run directory, or a JSONL file of cases."),
    target_base_url: str = typer.Option(..., "--target-base-url", help="The system under test: an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1."),
    target_model: str = typer.Option(..., "--target-model", help="Model name on the target server."),
    system_prompt: Optional[Path] = typer.Option(None, "--system-prompt", help="The app's own system prompt (a file), sent with every case."),
    target_api_key_env: Optional[str] = typer.Option(None, "--target-api-key-env", help="Environment variable holding the target's API key (none by default)."),
    output: Path = typer.Option(Path("redteam-report"), "-o", "--output", help="Report folder: report.md, report.json, results.jsonl."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Hand labels, JSONL {case_id, label: pass|fail}: the report gives the judge's agreement."),
    judge_backend: str = typer.Option("llamacpp", "--judge-backend", help="The judge: llamacpp (bundled model, in-process) or openai."),
    judge_base_url: Optional[str] = typer.Option(None, "--judge-base-url", help="Judge server (openai judge backend)."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Judge model name (openai judge backend)."),
    judge_api_key_env: Optional[str] = typer.Option(None, "--judge-api-key-env", help="Environment variable holding the judge's API key."),
    judge_gguf: Optional[str] = typer.Option(None, "--judge-gguf", help="A GGUF for the llamacpp judge (default: the bundled model)."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Longest target reply, in tokens."),
    concurrency: int = typer.Option(1, "--concurrency", help="Cases in flight."),
    seed: int = SeedOpt,
) -> None:
    """Send every case to a target endpoint, grade each reply pass/fail/error with a judge, write the report."""
    report = run_against_target(
        run_dir, target_base_url, target_model, system_prompt, target_api_key_env, output, labels,
        model_config(judge_backend, judge_base_url, judge_model, judge_api_key_env, judge_gguf),
        max_tokens, concurrency, seed)
    o = report["summary"]["overall"]
    rate = "n/a" if o["failure_rate"] is None else f"{100 * o['failure_rate']:.1f}%"
    console.print(f"{o['cases']} cases: {o['pass']} pass, {o['fail']} fail, {o['error']} error; "
                  f"failure rate {rate} -> {output / 'report.md'}", highlight=False)


@command
def redteam_export(
    run_dir: Path = typer.Argument(..., help="A redteam run directory."),
    output: Path = typer.Option(Path("promptfoo-tests.yaml"), "-o", "--output", help="The YAML file to write."),
) -> None:
    """Write a red-team set as promptfoo test cases (use it as `tests: file://promptfoo-tests.yaml`)."""
    console.print(f"{export_promptfoo(run_dir, output)} promptfoo test cases -> {output}")


def run_against_target(run_dir: Path, base_url: str, model: str, system_prompt: Optional[Path],
                       api_key_env: Optional[str], output: Path, labels: Optional[Path], judge_cfg: dict,
                       max_tokens: int, concurrency: int, seed: int) -> dict:
    import asyncio
    from types import SimpleNamespace

    from ..config.models import LlamaCppModel, OpenAIModel
    from ..engine.redteam_run import arun_redteam, load_cases
    from ..errors import InputFileError
    from ..export.redteam_report import read_labels, write_report
    from ..llm.factory import build_backend
    from ..llm.openai_compat import OpenAICompatLLM
    from ..runs import rundir

    cases = load_cases(run_dir)
    prompt = None
    if system_prompt is not None:
        try:
            prompt = system_prompt.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputFileError(f"{system_prompt}: cannot read the system prompt ({exc})") from None
    hand = read_labels(labels) if labels else None
    target = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=base_url, model=model, api_key_env=api_key_env,
                                         max_concurrency=max(1, concurrency)))
    judge_model = OpenAIModel(**judge_cfg) if judge_cfg["backend"] == "openai" else LlamaCppModel(**judge_cfg)
    judge = build_backend(judge_model)
    store_path = cases.store_path or rundir.store_path(output)

    async def go():
        try:
            with progress_bar(len(cases.cases), "graded") as bar:
                def on_progress(done: int, total: int) -> None:
                    bar(SimpleNamespace(accepted=done, rejected=0, tokens_per_s=0.0, calls=0, cache_hits=0))

                return await arun_redteam(cases, target, judge, store_path=store_path, system_prompt=prompt,
                                          seed=seed, concurrency=concurrency, max_tokens=max_tokens,
                                          on_progress=on_progress)
        finally:
            await target.aclose()
            await judge.aclose()

    result = asyncio.run(go())
    info = {"target": target.identity, "judge": judge.identity, "system_prompt": str(system_prompt) if system_prompt else None,
            "cases": str(run_dir), "eval_run_id": result.run_id, "store": str(result.store_path),
            "calls": result.calls, "cache_hits": result.cache_hits}
    return write_report(result.results, output, info, hand)
