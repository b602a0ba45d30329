"""The options commands share, defined once (sqlite-utils' option decorators, in typer's terms).

A command names a bundle of options once, as the default of one parameter, and is wrapped in
`command`:

    @command
    def generate_qa(docs: str = DocsOpt, ..., run: RunFlags = RUN, model: dict = MODEL) -> None:

`command` puts the bundle's options where that parameter stands (typer sees them as ordinary
options, so `--help` lists them there), adds `--debug` last, and calls the body inside
`cli_errors(debug)` with the parameter set to the bundle's value, built from its options there,
so a bad value is one clean error line and exit code 2. Adding a shared option to a command
(`executor: str = executor_option("gates on Ray Data")`) is one line.
"""
from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from .common import cli_errors

DebugOpt = typer.Option(False, "--debug", help="Show tracebacks and debug logs.")


@dataclass(frozen=True)
class Bundle:
    """Options that travel together: (parameter, type, typer.Option) each, and the value the command gets."""

    options: tuple[tuple[str, Any, Any], ...]
    build: Callable[..., Any]


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The command `fn` with its bundles expanded into options, `--debug` added, and errors made clean."""
    hints = typing.get_type_hints(fn, include_extras=True)
    params: list[inspect.Parameter] = []
    bundles: dict[str, Bundle] = {}
    for p in inspect.signature(fn).parameters.values():
        if isinstance(p.default, Bundle):
            bundles[p.name] = p.default
            params += [inspect.Parameter(name, p.POSITIONAL_OR_KEYWORD, default=opt, annotation=kind)
                       for name, kind, opt in p.default.options]
        else:
            params.append(p.replace(annotation=hints.get(p.name, p.annotation)))
    params.append(inspect.Parameter("debug", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=DebugOpt,
                                    annotation=bool))
    names = [p.name for p in params]
    if len(names) != len(set(names)):
        raise TypeError(f"{fn.__name__}: an option of a bundle has the name of another parameter")

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        with cli_errors(kwargs.pop("debug")):
            values = {name: b.build(**{o: kwargs.pop(o) for o, _, _ in b.options}) for name, b in bundles.items()}
            return fn(**kwargs, **values)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _option(name: str, kind: Any, *args: Any, **kwargs: Any) -> tuple[str, Any, Any]:
    return name, kind, typer.Option(*args, **kwargs)


# --- which model: --backend --base-url --model --api-key-env --gguf -> a recipe's `model:` block


def model_config(backend: str, base_url: Optional[str], model: Optional[str], api_key_env: Optional[str],
                 gguf: Optional[str]) -> dict:
    """The `model:` block the model options describe."""
    from ..errors import UsageError

    if backend == "openai":
        if not base_url or not model:
            raise UsageError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1) and --model NAME")
        cfg = {"backend": "openai", "base_url": base_url, "model": model}
        if api_key_env:
            cfg["api_key_env"] = api_key_env
        return cfg
    if backend != "llamacpp":
        raise UsageError(f"--backend must be llamacpp or openai (got {backend!r})")
    return {"backend": "llamacpp", **({"path": gguf} if gguf else {})}


MODEL = Bundle((
    _option("backend", str, "llamacpp", "--backend",
            help="llamacpp (in-process, bundled model) or openai (any OpenAI-compatible server)."),
    _option("base_url", Optional[str], None, "--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    _option("model", Optional[str], None, "--model", help="Model name on the server (openai backend)."),
    _option("api_key_env", Optional[str], None, "--api-key-env",
            help="Environment variable holding the API key (default OPENAI_API_KEY)."),
    _option("gguf", Optional[str], None, "--gguf", help="A GGUF file for the llamacpp backend (default: the bundled Gemma 3 270M)."),
), model_config)


# --- how a `generate` command runs: slots, seed, budgets, what the output carries


@dataclass(frozen=True)
class RunFlags:
    concurrency: int = 1
    seed: int = 0
    max_attempts: Optional[int] = None
    max_tokens: Optional[int] = None
    with_meta: bool = False
    rejected: bool = False
    checks: Optional[str] = None

    def check_names(self) -> Optional[list[str]]:
        """The recipe's `checks:` (None: the technique's defaults; `none`: [])."""
        if self.checks is None:
            return None
        return [] if self.checks.strip().lower() in ("", "none", "off") else csv_list(self.checks)

    def engine(self) -> dict:
        """The recipe's `engine:` block."""
        budgets = {"max_attempts": self.max_attempts, "max_tokens": self.max_tokens}
        return {"concurrency": self.concurrency, "seed": self.seed, **{k: v for k, v in budgets.items() if v}}

    def output(self) -> dict:
        """The recipe's `output:` block (the path comes from -o)."""
        return {"with_meta": self.with_meta, "rejected": self.rejected}


SeedOpt = typer.Option(0, "--seed", help="Run seed: the same seed replays from the cache.")
_CONCURRENCY = _option("concurrency", int, 1, "--concurrency", help="Slots (candidates) in flight.")
_ATTEMPTS = _option("max_attempts", Optional[int], None, "--max-attempts",
                    help="Give up after this many candidates (default 5 x count + 20).")
_TOKENS = _option("max_tokens", Optional[int], None, "--max-tokens", help="Budget: stop after this many completion tokens.")
_META = _option("with_meta", bool, False, "--with-meta", help="Add each record's lineage under _meta.")
_REJECTED = _option("rejected", bool, False, "--rejected",
                    help="Also write rejected candidates (with reasons) to rejected.jsonl.")
_CHECKS = _option("checks", Optional[str], None, "--checks",
                  help="Acceptance checks on the written text: readable,complete,relevant,fluent,pmi (comma list), or none "
                       "(default: readable,complete,relevant where the technique writes free text).")
RUN = Bundle((_CONCURRENCY, ("seed", int, SeedOpt), _ATTEMPTS, _META, _REJECTED, _CHECKS), RunFlags)
RUN_WITH_TOKENS = Bundle((_CONCURRENCY, ("seed", int, SeedOpt), _ATTEMPTS, _TOKENS, _META, _REJECTED, _CHECKS),
                         RunFlags)

OutputOpt = typer.Option("out", "-o", "--output",
                         help="Output folder (gets data.jsonl, store.sqlite, manifest.json) or a .jsonl file.")


# --- where bulk work runs, and the file of rejections a gate command writes


def executor_option(what: str) -> Bundle:
    """--executor local|ray; `what` says what runs on Ray."""
    def build(executor: str) -> str:
        from ..errors import UsageError

        if executor not in ("local", "ray"):
            raise UsageError(f"--executor must be local or ray (got {executor!r})")
        return executor

    return Bundle((_option("executor", str, "local", "--executor",
                           help=f"local | ray ({what}; RAY_ADDRESS or a local cluster)."),), build)


RejectedFileOpt = typer.Option(None, "--rejected", help="Also write the rejected records with stage, reason and detail (JSONL).")


# --- values written in one flag


def csv_list(value: str) -> list[str]:
    """`a, b,,c` -> ['a', 'b', 'c']."""
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_attributes(items: list[str]) -> dict[str, list[str]]:
    """Repeated `--attribute axis=v1,v2` -> {axis: [v1, v2]}."""
    from ..errors import UsageError

    out: dict[str, list[str]] = {}
    for item in items:
        axis, sep, values = item.partition("=")
        vals = csv_list(values)
        if not sep or not axis.strip() or not vals:
            raise UsageError(f"--attribute {item!r}: write it as axis=value1,value2 (e.g. tone=angry,polite)")
        out[axis.strip()] = vals
    return out


def resolved(path: str) -> str:
    """A file or folder named on the command line, absolute (the recipe runs from the working folder)."""
    return str(Path(path).resolve())


def parse_pair(item: str, flag: str) -> tuple[str, str]:
    """`FIELD=VALUE` -> (FIELD, VALUE), or a usage error that names the flag."""
    from ..errors import UsageError

    key, sep, value = item.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"{flag} {item!r}: write it as FIELD=VALUE (e.g. {flag} author=person)")
    return key.strip(), value.strip()


RulesOpt = typer.Option(None, "--rules", help="Rules each record must keep: a YAML/JSON list or JSONL, e.g. "
                        "[{rule: order, field: end_date, after: start_date}, {rule: sum, items: 'items[].amount', total: total}].")
