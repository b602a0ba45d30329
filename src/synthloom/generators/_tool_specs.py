"""Tools in, from what users have: OpenAI `tools` JSON, an MCP server's `tools/list` JSON, or a Python
module of typed functions (signature and docstring become the schema).

Every source becomes a list of `ToolSpec` (name, description, JSON-schema parameters): the shape OpenAI's
`tools` entries hold, which the exports write back out unchanged.
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]

    def openai(self) -> dict[str, Any]:
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


def _params(schema: Any, where: str) -> dict[str, Any]:
    from ..llm.jsontext import check_schema

    if schema is None:
        schema = {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise InputFileError(f"{where}: a tool's parameters must be a JSON schema of type object")
    check_schema(schema, where)
    return {"type": "object", **schema}


def server_grammar_risks(schema: Any, at: str = "") -> list[str]:
    """Where a parameter schema may not compile in llama-cpp-python's server (its JSON-schema-to-grammar
    converter, llama-cpp-python 0.3.x): a `"` in a `const`/`enum` string or a property name (the converter
    leaves a backslash unescaped in the grammar literal) and a backslash escape in a `pattern` (`\\d`, `\\w`,
    `\\.` become grammar escapes the parser refuses). The server exits on such a grammar; other backends
    (the in-process one, OpenAI, vLLM) are not affected."""
    out: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            here = f"{at}.{key}" if at else key
            if key in ("const", "enum"):
                values = value if key == "enum" and isinstance(value, list) else [value]
                out += [f"{here}: {v!r} holds a double quote" for v in values if isinstance(v, str) and '"' in v]
            elif key == "pattern" and isinstance(value, str) and "\\" in value:
                out.append(f"{here}: {value!r} has a backslash escape (write [0-9] for \\d)")
            elif key == "properties" and isinstance(value, dict):
                out += [f"{here}: property name {k!r} holds a double quote" for k in value if '"' in k]
                out += [r for k, v in value.items() for r in server_grammar_risks(v, f"{here}.{k}")]
            else:
                out += server_grammar_risks(value, here)
    elif isinstance(schema, list):
        out += [r for i, v in enumerate(schema) for r in server_grammar_risks(v, f"{at}[{i}]")]
    return out


def specs_from_json(data: Any, where: str) -> list[ToolSpec]:
    """OpenAI `tools` (a list of {type: function, function: {...}}, or bare function objects), or MCP
    `tools/list` ({tools: [{name, description, inputSchema}]}, also wrapped in a JSON-RPC `result`)."""
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = data["result"]
    if isinstance(data, dict) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list) or not data:
        raise InputFileError(f"{where}: give a non-empty list of tools (OpenAI `tools` JSON, or MCP `tools/list` "
                             "JSON with a `tools` list)")
    out = []
    for i, item in enumerate(data):
        at = f"{where}: tool {i + 1}"
        if not isinstance(item, dict):
            raise InputFileError(f"{at}: not an object")
        fn = item.get("function") if isinstance(item.get("function"), dict) else item
        name = fn.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise InputFileError(f"{at}: `name` must be 1-64 letters, digits, _ . or - (got {name!r})")
        params = fn.get("parameters", fn.get("inputSchema", fn.get("input_schema")))
        out.append(ToolSpec(name, str(fn.get("description") or ""), _params(params, f"{at} ({name}) parameters")))
    names = [t.name for t in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputFileError(f"{where}: tool names must be unique ({', '.join(dup)} repeated)")
    return out


def load_module(path: Path) -> Any:
    """The user's Python module of tool functions, imported from its file."""
    if not path.is_file():
        raise InputFileError(f"{path}: not found; give a Python file of typed functions")
    name = f"synthloom_tools_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputFileError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InputFileError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module


def module_functions(module: Any) -> dict[str, Any]:
    """The module's public functions defined in it (not imported), in file order; `__all__` when given."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, f in vars(module).items() if inspect.isfunction(f) and not n.startswith("_")
                 and f.__module__ == module.__name__]
    return {n: getattr(module, n) for n in names}


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {param: text}) from a Google-style docstring: the text before `Args:`, and the
    `name: text` or `name (type): text` lines under it."""
    lines = inspect.cleandoc(doc or "").splitlines()
    head: list[str] = []
    params: dict[str, str] = {}
    section, last = "head", None
    for line in lines:
        if re.match(r"^(Args|Arguments|Parameters)\s*:?\s*$", line.strip()):
            section, last = "args", None
        elif re.match(r"^(Returns|Raises|Yields|Examples?)\s*:", line.strip()):
            section = "other"
        elif section == "head":
            head.append(line)
        elif section == "args":
            m = re.match(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
            if m:
                last = m.group(1)
                params[last] = m.group(2).strip()
            elif last and line.strip():
                params[last] = f"{params[last]} {line.strip()}".strip()
    return " ".join(" ".join(head).split()), params


def portable(hint: Any) -> Any:
    """The hint with every `typing.TypedDict` (which pydantic refuses before Python 3.12) rebuilt as a
    `typing_extensions.TypedDict` with the same fields and required keys, also inside list[...], Optional[...]."""
    import types

    import typing_extensions as te

    if typing.is_typeddict(hint) and type(hint).__module__ == "typing" and sys.version_info < (3, 12):
        required = hint.__required_keys__
        fields = {k: (te.Required if k in required else te.NotRequired)[portable(v)]
                  for k, v in typing.get_type_hints(hint).items()}
        out = te.TypedDict(hint.__name__, fields)  # type: ignore[operator]
        out.__doc__ = hint.__doc__
        return out
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None or not args or origin is typing.Literal:
        return hint
    new = tuple(portable(a) for a in args)
    if new == args:
        return hint
    if origin is types.UnionType:
        import functools
        import operator

        return functools.reduce(operator.or_, new)
    if hasattr(hint, "copy_with"):
        return hint.copy_with(new)
    return origin[new]


def _needs_model(hint: Any) -> bool:
    """Whether the hint holds a pydantic model or a dataclass (arguments arrive as JSON objects)."""
    import dataclasses

    from pydantic import BaseModel

    if isinstance(hint, type) and (issubclass(hint, BaseModel) or dataclasses.is_dataclass(hint)):
        return True
    return any(_needs_model(a) for a in typing.get_args(hint))


def typed_arguments(fn: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """The call's JSON arguments as the function's hints ask: a pydantic model or dataclass parameter (also
    in a list or dict) gets instances, not dicts. Other values pass unchanged."""
    from pydantic import TypeAdapter

    hints = typing.get_type_hints(fn)
    return {k: TypeAdapter(portable(hints[k])).validate_python(v) if k in hints and _needs_model(hints[k]) else v
            for k, v in arguments.items()}


_VALUES = ("default", "const", "enum", "examples")  # JSON values, not schemas: kept as they are


def _inline(schema: Any, defs: dict[str, Any], stack: tuple[str, ...], where: str) -> Any:
    """A parameter's schema with pydantic's `$defs` references written in place and its generated `title`s
    dropped, so every tool schema is self-contained (what tool-calling APIs and grammar converters take)."""
    if isinstance(schema, list):
        return [_inline(s, defs, stack, where) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/$defs/") or name not in defs:
            raise InputFileError(f"{where}: a reference {ref!r} that is not among the type's definitions")
        if name in stack:
            raise InputFileError(f"{where}: the type {name} contains itself; a tool parameter needs a finite "
                                 "schema (give the tools as OpenAI tools JSON to write one by hand)")
        out.update(_inline(defs[name], defs, (*stack, name), where))
    for k, v in schema.items():
        if k in ("$ref", "$defs", "title"):
            continue
        if k == "properties" and isinstance(v, dict):
            out[k] = {p: _inline(s, defs, stack, where) for p, s in v.items()}
        else:
            out[k] = v if k in _VALUES else _inline(v, defs, stack, where)
    return out


def spec_from_function(name: str, fn: Any, where: str) -> ToolSpec:
    """A tool's schema from its signature (types through pydantic: also nested pydantic models, dataclasses and
    TypedDicts, in place) and its docstring."""
    from pydantic import TypeAdapter

    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise InputFileError(f"{where}: {name}: its type hints cannot be read ({exc})") from exc
    description, docs = _doc_parts(fn.__doc__ or "")
    props: dict[str, Any] = {}
    required = []
    for pname, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if pname not in hints:
            raise InputFileError(f"{where}: {name}: parameter `{pname}` has no type hint; annotate it (e.g. "
                                 f"`{pname}: str`) so its schema is known")
        try:
            raw = TypeAdapter(portable(hints[pname])).json_schema()
        except Exception as exc:
            raise InputFileError(f"{where}: {name}: parameter `{pname}`: no JSON schema for its type ({exc})") from exc
        schema = _inline(raw, raw.get("$defs") or {}, (), f"{where}: {name}: parameter `{pname}`")
        if pname in docs:
            schema["description"] = docs[pname]
        if p.default is p.empty:
            required.append(pname)
        else:
            try:
                json.dumps(p.default)
                schema["default"] = p.default
            except TypeError:
                pass
        props[pname] = schema
    params = {"type": "object", "properties": props, "required": required}
    return ToolSpec(name, description, params)


def specs_from_module(path: Path) -> tuple[list[ToolSpec], Any]:
    module = load_module(path)
    fns = module_functions(module)
    if not fns:
        raise InputFileError(f"{path}: no public functions; define the tools as typed functions (or set __all__)")
    return [spec_from_function(n, f, str(path)) for n, f in fns.items()], module


def read_tool_specs(tools: Any, functions: str | None, base_dir: Path) -> list[ToolSpec]:
    """The recipe's tools: `tools` inline (a list) or a JSON/YAML file (OpenAI or MCP); else from `functions`."""
    from ..userfiles import read_data

    if tools is None:
        if functions is None:
            raise InputFileError("generate: give `tools` (OpenAI or MCP tools JSON) or `functions` (a Python file "
                                 "of typed functions)")
        return specs_from_module(resolve(functions, base_dir))[0]
    if isinstance(tools, str):
        path = resolve(tools, base_dir)
        if not path.is_file():
            raise InputFileError(f"generate.tools: {path} not found; give an OpenAI `tools` or MCP `tools/list` "
                                 "JSON file")
        return specs_from_json(read_data(path, "tools file"), str(path))
    return specs_from_json(tools, "generate.tools")


def resolve(path: str, base_dir: Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base_dir / p
