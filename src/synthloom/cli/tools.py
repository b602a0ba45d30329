"""CLI for function-calling data: `generate tools` (calls checked by running the tools)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import run_from_flags
from .options import MODEL, RUN, OutputOpt, RunFlags, command, resolved


@command
def generate_tools(
    functions: Optional[str] = typer.Option(None, "--functions", help="A Python file of typed functions: the tools (signature and docstring are the schema), run in a separate process."),
    tools: Optional[str] = typer.Option(None, "--tools", help="OpenAI `tools` JSON or MCP `tools/list` JSON (with --functions: the schemas; alone: give --mock responses)."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="A YAML/JSON file of worked examples: a list of {request, calls, answer} (a base model needs a few)."),
    values: Optional[Path] = typer.Option(None, "--values", help="A YAML/JSON file of argument values per tool and parameter ({tool: {param: [...]}}) to write requests around."),
    mock: Optional[Path] = typer.Option(None, "--mock", help="A YAML/JSON file of responses for tools with side effects: {tool: result} or {tool: [{arguments, result}]}."),
    scenario: list[str] = typer.Option([], "--scenario", help="single | parallel | multi_step | no_tool (repeatable; default: all four)."),
    timeout: float = typer.Option(5.0, "--timeout", help="Time limit per tool call, in seconds."),
    judge: bool = typer.Option(False, "--judge", help="After the judge-free checks, ask the model whether the calls fit the request and the answer fits the results (a 'no' rejects)."),
    count: int = typer.Option(8, "-n", "--count", help="Records to make."),
    output: str = OutputOpt,
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Function-calling records (request, calls, results, answer), every call run and checked: format, execution, semantics."""
    from ..userfiles import read_data

    gen: dict = {"technique": "tools", "timeout_s": timeout}
    if functions:
        gen["functions"] = resolved(functions)
    if tools:
        gen["tools"] = resolved(tools)
    if examples:
        data = read_data(examples, "examples file")
        gen["examples"] = data.get("examples", data) if isinstance(data, dict) else data
    if values:
        gen["values"] = read_data(values, "values file")
    if mock:
        gen["mock"] = str(mock.resolve())
    if scenario:
        gen["scenarios"] = scenario
    if judge:
        gen["judge"] = True
    run_from_flags("tools", gen, count, output, run, model)
