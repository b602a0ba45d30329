"""Running tool calls: the user's Python functions in a separate process, or recorded/mock responses.

One worker process per run (spawned, so it shares nothing with the engine: no run store, no open
files, no model) imports the user's module and serves calls one at a time over a pipe. A call that
runs past the time limit kills the worker (a fresh one starts for the next call) and is a `timeout`;
an exception inside a tool comes back as a tool error (`TypeError: ...`), never as a crash of the run.

Tools with side effects get `mock` responses instead: a fixed result per tool, or recorded
{arguments, result} pairs (a call whose arguments were not recorded is an error).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ToolOutcome:
    ok: bool
    result: Any = None  # the tool's return value, made JSON-safe
    error: str = ""  # "timeout", or "ExceptionName: message"
    source: str = "python"  # python | mock

    @property
    def content(self) -> str:
        """The text of the tool message (what a model reads back)."""
        if not self.ok:
            return json.dumps({"error": self.error}, ensure_ascii=False)
        return self.result if isinstance(self.result, str) else json.dumps(self.result, ensure_ascii=False)


def _json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return str(value)


def _serve(conn: Any, module_path: str) -> None:
    """The worker: import the module, then answer (name, arguments) requests until the pipe closes."""
    from ._tool_specs import load_module, module_functions, typed_arguments

    os.chdir(Path(module_path).parent)
    try:
        fns = module_functions(load_module(Path(module_path)))
    except Exception as exc:
        conn.send(("load_error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", sorted(fns)))
    while True:
        try:
            name, arguments = conn.recv()
        except (EOFError, OSError):
            return
        try:
            value = fns[name](**typed_arguments(fns[name], arguments))
            conn.send(("ok", _json_safe(value)))
        except BaseException as exc:  # the tool's own failure is data: a tool error in the record
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:500]))


class ToolRunner:
    """Calls the user's functions in a worker process with a per-call time limit; thread-safe."""

    def __init__(self, module_path: Path | None, mock: dict[str, Any] | None = None, timeout_s: float = 5.0) -> None:
        self.module_path = module_path.resolve() if module_path is not None else None
        self.mock = mock or {}
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self.restarts = 0

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, str(self.module_path)), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(60):
            self._kill()
            raise RuntimeError(f"{self.module_path}: the tool worker did not start within 60 s")
        kind, info = parent.recv()
        if kind == "load_error":
            self._kill()
            from ..errors import InputFileError

            raise InputFileError(f"{self.module_path}: importing it in the tool worker failed: {info}")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        if name in self.mock:
            return self._mocked(name, arguments)
        if self.module_path is None:
            return ToolOutcome(False, error=f"no implementation of {name}: give `functions` or a `mock` response")
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                if self._proc is not None:
                    self.restarts += 1
                self._start()
            try:
                self._conn.send((name, arguments))
                if not self._conn.poll(self.timeout_s):
                    self._kill()
                    return ToolOutcome(False, error=f"timeout: no result within {self.timeout_s:g} s")
                kind, value = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._kill()
                return ToolOutcome(False, error=f"worker died: {type(exc).__name__}")
        return ToolOutcome(True, value) if kind == "ok" else ToolOutcome(False, error=value)

    async def acall(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        return await asyncio.to_thread(self.call, name, arguments)

    def _mocked(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        value = self.mock[name]
        if isinstance(value, list) and value and all(isinstance(v, dict) and "arguments" in v for v in value):
            for v in value:
                if v["arguments"] == arguments:
                    return ToolOutcome(True, _json_safe(v.get("result")), source="mock")
            return ToolOutcome(False, error=f"no recorded response of {name} for these arguments", source="mock")
        return ToolOutcome(True, _json_safe(value), source="mock")

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __del__(self) -> None:  # a worker never outlives its runner
        try:
            self._kill()
        except Exception:
            pass
