"""CLI for multi-turn dialogues: `generate conversation` (a dataset) and `simulate` (simulated users against
a target chat endpoint, graded)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console, progress_bar, run_from_flags
from .options import MODEL, RUN, OutputOpt, RunFlags, SeedOpt, command, model_config, parse_attributes, resolved

ScenariosOpt = typer.Option(..., "--scenarios", help="The simulated users: a YAML/JSON/JSONL file of scenarios (goal; optional persona, mood, knowledge, opening, expect, attributes).")
TurnsOpt = typer.Option("2-8", "--turns", help="Messages per conversation, user and assistant each counting one: a range like 2-8 (the user may end it from the low end on).")


def _example(path: Optional[Path]) -> list:
    """One example conversation from a YAML/JSON file: a list of {role, content} (or {examples: [[...]]})."""
    if path is None:
        return []
    from ..errors import InputFileError
    from ..userfiles import read_data

    data = read_data(path, "example conversation")
    if isinstance(data, dict) and "examples" in data:
        data = data["examples"]
    if isinstance(data, list) and data and isinstance(data[0], list):
        data = data[0]
    if not isinstance(data, list) or not all(isinstance(t, dict) and {"role", "content"} <= set(t) for t in data):
        raise InputFileError(f"{path}: give one example conversation, a list of {{role, content}} turns")
    return data


@command
def generate_conversation(
    scenarios: str = ScenariosOpt,
    system: str = typer.Option("", "--system", help="The assistant's system prompt: a .md/.txt file or the text inline."),
    count: int = typer.Option(8, "-n", "--count", help="Conversations to make."),
    output: str = OutputOpt,
    turns: str = TurnsOpt,
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Extra scenario axis, axis=v1,v2,... (repeatable; persona, mood and knowledge fill those fields)."),
    example: Optional[Path] = typer.Option(None, "--example", help="An example conversation (YAML/JSON list of {role, content}) that shows how a turn reads."),
    tries: int = typer.Option(3, "--tries", help="Tries per turn: a rejected turn is written again with the same history."),
    min_relevance: float = typer.Option(0.1, "--min-relevance", help="Lowest MiniLM cosine of a turn with the one before it (-1: off)."),
    run: RunFlags = RUN,
    model: dict = MODEL,
) -> None:
    """Multi-turn dialogues between simulated users and an assistant, every turn checked (OpenAI/ShareGPT/HF exports keep all turns)."""
    gen = {"technique": "conversation", "scenarios": resolved(scenarios),
           "system": resolved(system) if system and Path(system).is_file() else system, "turns": turns,
           "attributes": parse_attributes(attribute), "tries": tries, "min_relevance": min_relevance}
    ex = _example(example)
    if ex:
        gen["examples"] = [ex]
    run_from_flags("conversation", gen, count, output, run, model)


@command
def simulate(
    scenarios: Path = ScenariosOpt,
    target_base_url: str = typer.Option(..., "--target-base-url", help="The assistant under test: an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1."),
    target_model: str = typer.Option(..., "--target-model", help="Model name on the target server."),
    system_prompt: Optional[Path] = typer.Option(None, "--system-prompt", help="The target's own system prompt (a file), sent with every turn."),
    target_api_key_env: Optional[str] = typer.Option(None, "--target-api-key-env", help="Environment variable holding the target's API key (none by default)."),
    count: int = typer.Option(8, "-n", "--count", help="Conversations to hold."),
    turns: str = TurnsOpt,
    attribute: list[str] = typer.Option([], "--attribute", "-a", help="Extra scenario axis, axis=v1,v2,... (repeatable)."),
    example: Optional[Path] = typer.Option(None, "--example", help="An example conversation that shows the simulated user how a turn reads."),
    output: Path = typer.Option(Path("simulate-report"), "-o", "--output", help="Report folder: report.md, report.json, results.jsonl, store.sqlite."),
    user_backend: str = typer.Option("llamacpp", "--user-backend", help="The simulated user's model: llamacpp (bundled, in-process) or openai."),
    user_base_url: Optional[str] = typer.Option(None, "--user-base-url", help="The simulated user's server (openai backend)."),
    user_model: Optional[str] = typer.Option(None, "--user-model", help="The simulated user's model name (openai backend)."),
    user_api_key_env: Optional[str] = typer.Option(None, "--user-api-key-env", help="Environment variable holding the user model's API key."),
    user_gguf: Optional[str] = typer.Option(None, "--user-gguf", help="A GGUF for the llamacpp user (default: the bundled model)."),
    max_tokens: int = typer.Option(256, "--max-tokens", help="Longest target reply, in tokens."),
    min_relevance: float = typer.Option(0.1, "--min-relevance", help="A target turn whose MiniLM cosine with the user's turn is below this is flagged irrelevant (-1: off)."),
    min_goal_relevance: float = typer.Option(0.3, "--min-goal-relevance", help="A goal counts as reached only when some unflagged reply has at least this MiniLM cosine with the goal."),
    concurrency: int = typer.Option(1, "--concurrency", help="Conversations in flight."),
    seed: int = SeedOpt,
) -> None:
    """Simulated users hold conversations with a target chat endpoint; each is graded (goal reached, turns used, where it went wrong)."""
    from ..config.conversation import parse_turns
    from ..errors import UsageError

    try:
        lo_hi = parse_turns(turns)
    except ValueError as exc:
        raise UsageError(f"--turns: {exc}") from None
    report = simulate_against_target(
        scenarios, target_base_url, target_model, system_prompt, target_api_key_env, count, lo_hi,
        parse_attributes(attribute), _example(example), output,
        model_config(user_backend, user_base_url, user_model, user_api_key_env, user_gguf),
        max_tokens, min_relevance, min_goal_relevance, concurrency, seed)
    o = report["summary"]["overall"]
    rate = "n/a" if o["goal_rate"] is None else f"{100 * o['goal_rate']:.0f}%"
    console.print(f"{o['conversations']} conversations: goal reached in {o['goal_reached']} ({rate}) "
                  f"-> {output / 'report.md'}", highlight=False)


def simulate_against_target(scenarios_path: Path, base_url: str, model: str, system_prompt: Optional[Path],
                            api_key_env: Optional[str], count: int, turns: tuple[int, int], attributes: dict,
                            example: list, output: Path, user_cfg: dict, max_tokens: int, min_relevance: float,
                            min_goal_relevance: float, concurrency: int, seed: int) -> dict:
    import asyncio
    from types import SimpleNamespace

    from ..config.models import LlamaCppModel, OpenAIModel
    from ..engine.simulate_run import Simulation, arun_simulate
    from ..errors import InputFileError, UsageError
    from ..export.simulate_report import write_report
    from ..generators.conversation import read_scenarios
    from ..llm.factory import build_backend
    from ..llm.openai_compat import OpenAICompatLLM
    from ..runs import rundir

    if count <= 0:
        raise UsageError(f"-n/--count must be > 0 (got {count})")
    scenarios = read_scenarios(str(scenarios_path.resolve()), Path.cwd(), where="--scenarios")
    prompt = None
    if system_prompt is not None:
        try:
            prompt = system_prompt.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputFileError(f"{system_prompt}: cannot read the system prompt ({exc})") from None
    sim = Simulation(scenarios, prompt, turns, seed, max_tokens=max_tokens, min_relevance=min_relevance,
                     min_goal_relevance=min_goal_relevance, attributes=attributes, example=example)
    target = OpenAICompatLLM(OpenAIModel(backend="openai", base_url=base_url, model=model, api_key_env=api_key_env,
                                         max_concurrency=max(1, concurrency)))
    user = build_backend(OpenAIModel(**user_cfg) if user_cfg["backend"] == "openai" else LlamaCppModel(**user_cfg))
    store_path = rundir.store_path(output)

    async def go():
        try:
            with progress_bar(count, "conversations") as bar:
                def on_progress(done: int, total: int) -> None:
                    bar(SimpleNamespace(accepted=done, rejected=0, tokens_per_s=0.0, calls=0, cache_hits=0))

                return await arun_simulate(sim, count, target, user, store_path=store_path,
                                           concurrency=concurrency, on_progress=on_progress)
        finally:
            await target.aclose()
            await user.aclose()

    result = asyncio.run(go())
    info = {"target": target.identity, "user": user.identity,
            "system_prompt": str(system_prompt) if system_prompt else None, "scenarios": str(scenarios_path),
            "run_id": result.run_id, "store": str(result.store_path), "calls": result.calls,
            "cache_hits": result.cache_hits, "resumed": result.resumed}
    return write_report(result.results, output, info)
