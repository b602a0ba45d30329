"""`synthloom generate <tag>` for a technique without a hand-written command, built from its config model.

Each field of the model whose value a flag can say (a string, a number, a switch, one of a few
words, a list of strings) becomes an option named after the field (`max_tokens` -> --max-tokens,
a list: the option repeated), with the field's description as its help; a flag left out leaves
the model's default. The technique's other fields (nested blocks, mappings) are set in a recipe
(`synthloom run`). The run goes the way of every `generate` command (`run_from_flags`), so the
model, run and output options are the same, and the model checks the values (a bad one is named
by its flag).
"""
from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any, Callable, Literal, Optional, Union

import typer

from .common import run_from_flags
from .options import MODEL, RUN, RunFlags, command

_SCALARS = (str, int, float, bool)


def _flag_type(annotation: Any) -> Any | None:
    """The type typer reads a field's flag as, or None when a flag cannot say the field's value."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _flag_type(args[0]) if len(args) == 1 else None
    if origin is Literal:
        values = typing.get_args(annotation)
        return str if all(isinstance(v, str) for v in values) else None
    if origin is list:
        (item,) = typing.get_args(annotation) or (None,)
        item = _flag_type(item) if item is not None else None
        return typing.List[item] if item in (str, int, float) else None  # noqa: UP006 (typer reads List[...])
    return annotation if annotation in _SCALARS else None


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


# what every `generate` command already has (-n, -o, --debug, the run and model options): a field of
# the same name is set in a recipe, never shadowed
_RESERVED = frozenset({"technique", "count", "output", "debug", *(o for o, _, _ in RUN.options),
                       *(o for o, _, _ in MODEL.options)})


def flag_fields(config: type) -> dict[str, Any]:
    """field -> flag type, for the fields of `config` that a `generate` command sets from flags."""
    out = {}
    for name, info in config.model_fields.items():
        if name in _RESERVED:
            continue
        kind = _flag_type(info.annotation)
        if kind is not None:
            out[name] = kind
    return out


def _help(config: type, info: Any) -> str:
    text = info.description or ""
    annotation = info.annotation
    for arg in (typing.get_args(annotation) if typing.get_origin(annotation) in (Union, types.UnionType) else ()):
        if typing.get_origin(arg) is Literal:
            annotation = arg
    if typing.get_origin(annotation) is Literal:
        text = f"{text} (one of: {', '.join(typing.get_args(annotation))})".strip()
    if info.is_required():
        text = f"{text} [required]".strip()
    return text


def technique_command(config: type, tag: str) -> Callable[..., Any]:
    """The `synthloom generate <tag>` command of a technique, its options read off its config model."""
    fields = flag_fields(config)
    params = []
    for name, kind in fields.items():
        info = config.model_fields[name]
        option = typer.Option(None, _flag(name), help=_help(config, info), show_default=False)
        params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option,
                                        annotation=Optional[kind]))
    params += [
        inspect.Parameter("count", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=int,
                          default=typer.Option(10, "-n", "--count", help="How many records to make.")),
        inspect.Parameter("output", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                          default=typer.Option(f"{tag}.jsonl", "-o", "--output",
                                               help="Output file (.jsonl/.parquet) or folder.")),
        inspect.Parameter("run", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=RunFlags, default=RUN),
        inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dict, default=MODEL),
    ]

    def body(*, count: int, output: str, run: RunFlags, model: dict, **values: Any) -> None:
        generate = {"technique": tag, **{k: v for k, v in values.items() if v is not None and v != []}}
        try:
            run_from_flags(tag, generate, count, output, run, model)
        except Exception as exc:  # a field the model rejected is named by its flag
            named = re.sub(r"\bgenerate\.(\w+)", lambda m: _flag(m.group(1)) if m.group(1) in fields else m.group(0),
                           str(exc))
            if named != str(exc) and hasattr(exc, "exit_code"):
                raise type(exc)(named) from None
            raise

    body.__name__ = f"generate_{tag}"
    body.__doc__ = (config.__doc__ or f"Records of the {tag} technique.").strip().splitlines()[0]
    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    body.__annotations__ = {p.name: p.annotation for p in params}
    return command(body)
