"""`synthloom filter | judge | label-check FILE --executor ray`: stateless gates over a file on Ray Data.

The same decisions as the local command, by construction: each Ray Data actor
builds the same gates from the same configs and runs them with the same
function (`quality.apply.aapply_gates`) on a block of the file, with its own
model backend for the gates that ask one (judge, label). A judge's seed comes
from the record's content, never from where it ran, so the calls (and so the
scores, with a deterministic model) equal the local command's.

1. `read_text` reads the file (or a folder of JSONL shards), split into blocks
   of about 256 KiB (at least two per worker).
2. `map_batches` with an actor pool (`workers` actors, one CPU each): parse
   each line, run the gates, emit each record as the JSON line it will be
   written as, tagged kept / rejected / bad line.
3. Writing: one JSONL (or Parquet) file, streamed by the driver in the input
   order; or, when the output is an existing empty folder, JSONL shards written
   by the workers themselves (one `*.jsonl` per block), so no record passes
   through the driver.

Stateful gates (dedup, diversity caps) need one index in one place: they are
refused here (`synthloom dedup FILE --executor ray` is the whole-file dedup).
The local file commands keep no call cache, and neither does this path: a re-run
makes the same calls again (docs/scaling.md, "Bulk filter, judge, label-check").
"""
from __future__ import annotations

import asyncio
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence
from ..quality.apply import kept_row  # a kept record as the local command writes it

BLOCK_BYTES = 256 * 1024


@dataclass(frozen=True)
class RayGated:
    """What `ray_gate_file` did: lines read, records kept and rejected, rejections per reason, seconds."""

    read: int
    kept: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    output: Path = Path(".")


def _model_config(model: Any, cpus: float) -> Any:
    """The worker's model: a llama.cpp model pins as many threads as the worker has CPUs (one by default)."""
    from ..config.models import LlamaCppModel, OpenAIModel

    if not isinstance(model, dict):
        return model
    if model.get("backend") == "openai":
        return OpenAIModel(**model)
    return LlamaCppModel(**{"n_threads": max(1, int(cpus)), **{k: v for k, v in model.items() if v is not None}})


class GateWorker:
    """One Ray Data actor: the gates (and model) built once, an event loop of its own in a thread."""

    def __init__(self, configs: list[Any], model: Any, concurrency: int, base_dir: str, cpus: float) -> None:
        from ..quality import build_gates

        self.gates = build_gates(configs, Path(base_dir))
        self.concurrency = concurrency
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="synthloom-gates").start()
        self.llm = None
        if model is not None:
            from ..llm.factory import build_llm

            cfg = _model_config(model, cpus)
            self.llm = self._run(self._build(build_llm, cfg))

    @staticmethod
    async def _build(build_llm: Any, cfg: Any) -> Any:
        return build_llm([cfg])  # inside the loop: an HTTP backend binds its session to it

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def __call__(self, batch: dict[str, Any]) -> Any:
        from ..quality.apply import aapply_gates
        from ..quality.base import GateContext
        from ..records import Record

        records, bad = [], []
        for line in batch["text"]:
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                bad.append((line, str(exc)))
                continue
            records.append(Record(value if isinstance(value, dict) else {"text": value}))
        kept, rejected = self._run(aapply_gates(records, self.gates, GateContext(llm=self.llm), self.concurrency))
        kind = ["kept"] * len(kept) + ["rejected"] * len(rejected) + ["bad"] * len(bad)
        lines = ([json.dumps(kept_row(r), ensure_ascii=False) for r in kept]
                 + [json.dumps({"stage": r.stage, "reason": r.reason, "detail": r.detail, "data": r.data},
                               ensure_ascii=False) for r in rejected]
                 + [line for line, _ in bad])
        reason = [""] * len(kept) + [r.reason for r in rejected] + [json.dumps([msg, line]) for line, msg in bad]
        import pyarrow as pa

        return pa.table({"kind": pa.array(kind, pa.string()), "line": pa.array(lines, pa.string()),
                         "reason": pa.array(reason, pa.string())})

    def __del__(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None and self.loop.is_running():
            try:
                self._run(llm.aclose())
            except Exception:  # the actor is going away anyway
                pass


def _jsonl_sink(path: str) -> Any:
    from ray.data.datasource import BlockBasedFileDatasink

    class JsonlLines(BlockBasedFileDatasink):
        """Each block's `line` column as JSONL lines, one file per block."""

        def __init__(self, folder: str) -> None:
            super().__init__(folder, file_format="jsonl")

        def write_block_to_file(self, block: Any, file: Any) -> None:
            lines = block.to_arrow().column("line").to_pylist()
            file.write("".join(x + "\n" for x in lines).encode("utf-8"))

    return JsonlLines(path)


def _is_folder(path: Path) -> bool:
    return path.is_dir()


def _check_output(path: Path, what: str) -> None:
    from ..errors import UsageError
    from ..userfiles import check_file, check_folder, show

    if _is_folder(path):
        if any(path.iterdir()):
            raise UsageError(f"{show(path)}: the {what} folder is not empty; name an empty folder for the shards "
                             "(or a file)")
        check_folder(path, what)
    else:
        check_file(path, what)


def _bad_line(path: Path, line: str, msg: str) -> Exception:
    """The file and line number of a line that is not JSON (found again by the driver, on the error path only)."""
    from ..errors import InputFileError

    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with f.open(encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, 1):
                if text.rstrip("\n") == line:
                    return InputFileError(f"{f}:{n}: not valid JSON ({msg}); each line must be one JSON record")
    return InputFileError(f"{path}: a line is not valid JSON ({msg}): {line[:80]!r}; each line must be one JSON record")


def ray_gate_file(input: str | Path, output: str | Path, configs: Sequence[Any], *, rejected: str | Path | None = None,
                  model: Any = None, concurrency: int = 4, workers: int | None = None, base_dir: str | Path | None = None,
                  settings: Any = None) -> RayGated:
    """Gate the JSONL file (or folder of JSONL shards) `input` into `output` on Ray Data.

    `configs`: validated gate configs (stateless gates only). `model`: the `model:` mapping or config for
    judge / label gates; each worker builds its own. `output` naming an existing empty folder: JSONL shards
    written by the workers; `.parquet`: one Parquet file; else one JSONL file in the input order.
    `workers`: Ray Data actors, one CPU each (default: the cluster's CPUs).
    """
    import time

    from ..config.ray_settings import RaySettings
    from ..errors import InputFileError, UsageError
    from ..quality import build_gates
    from .ray_executor import RayExecutor, import_ray

    input, output = Path(input), Path(output)
    rejected = Path(rejected) if rejected is not None else None
    if not input.exists():
        raise InputFileError(f"{input}: no such file")
    stateful = [g.name for g in build_gates(list(configs), Path(base_dir or Path.cwd())) if g.stateful]
    if stateful:
        raise UsageError(f"--executor ray runs stateless gates only ({', '.join(stateful)} keeps one index of what it "
                         "accepted); run it locally, or use `synthloom dedup FILE --executor ray`")
    for path, what in ((output, "output"), (rejected, "rejected")):
        if path is not None:
            _check_output(path, what + (" file" if not _is_folder(path) else ""))
    if output.suffix == ".parquet" and not _is_folder(output):
        from ..errors import require

        require("pyarrow", "parquet", "Parquet output")
    ray = import_ray()
    started = RayExecutor.connect(settings or RaySettings())
    try:
        t = time.perf_counter()
        n_read, kept, rej, reasons = _gate(ray, input, output, rejected, list(configs), model, concurrency, workers,
                                           str(base_dir or Path.cwd()))
        return RayGated(n_read, kept, rej, reasons, time.perf_counter() - t, output)
    finally:
        if started:
            ray.shutdown()


def _gate(ray: Any, input: Path, output: Path, rejected: Path | None, configs: list, model: Any, concurrency: int,
          workers: int | None, base_dir: str) -> tuple[int, int, int, dict[str, int]]:
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its per-dataset INFO lines would fill the console
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True  # the output keeps the input's order, as on one machine
    workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = sum(p.stat().st_size for p in input.rglob("*") if p.is_file()) if input.is_dir() else input.stat().st_size
    blocks = max(2 * workers, math.ceil(size / BLOCK_BYTES))
    # the read asks no CPU: the gate actors may hold every CPU of a small cluster, and the read must still run
    ds = ray.data.read_text(str(input), drop_empty_lines=True, override_num_blocks=blocks,
                            num_cpus=0)
    gated = ds.map_batches(GateWorker, batch_format="numpy", batch_size=None, concurrency=workers, num_cpus=1,
                           fn_constructor_kwargs=dict(configs=configs, model=model, concurrency=concurrency,
                                                      base_dir=base_dir, cpus=1))
    sharded = _is_folder(output) or (rejected is not None and _is_folder(rejected))
    if sharded:  # the workers write the shards; the driver reads back only the kinds and reasons
        gated = gated.materialize()
    counts = {"kept": 0, "rejected": 0}
    reasons: dict[str, int] = {}
    with _LineFile(None if sharded and _is_folder(output) else output) as kept_out, \
            _LineFile(None if rejected is None or _is_folder(rejected) else rejected) as rej_out:
        if kept_out.path is None and rej_out.path is None:  # every output is shards: no line comes back
            gated_view = gated.select_columns(["kind", "reason"])
        else:
            gated_view = gated
        for b in gated_view.iter_batches(batch_format="numpy", batch_size=4096):
            lines = b.get("line")
            for i, (kind, reason) in enumerate(zip(b["kind"], b["reason"])):
                if kind == "bad":
                    msg, line = json.loads(str(reason))
                    raise _bad_line(input, line, msg)
                counts[kind] += 1
                line = str(lines[i]) if lines is not None else ""
                if kind == "kept":
                    kept_out.write(line)
                else:
                    reasons[str(reason)] = reasons.get(str(reason), 0) + 1
                    rej_out.write(line)
    if sharded:
        if _is_folder(output):
            gated.filter(expr="kind == 'kept'").select_columns(["line"]).write_datasink(_jsonl_sink(str(output)))
        if rejected is not None and _is_folder(rejected):
            gated.filter(expr="kind == 'rejected'").select_columns(["line"]).write_datasink(_jsonl_sink(str(rejected)))
    return counts["kept"] + counts["rejected"], counts["kept"], counts["rejected"], dict(
        sorted(reasons.items(), key=lambda kv: -kv[1]))


class _LineFile:
    """One output file written line by line into a temp file beside it, renamed on success (nothing if path is None).
    A `.parquet` path collects the rows and writes one Parquet file at the end."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._ctx: Any = None
        self._fh: Any = None
        self._rows: list[dict] | None = [] if path is not None and path.suffix == ".parquet" else None

    def __enter__(self) -> "_LineFile":
        if self.path is not None and self._rows is None:
            from ..userfiles import atomic_path

            self._ctx = atomic_path(self.path)
            tmp = self._ctx.__enter__()
            self._fh = open(tmp, "w", encoding="utf-8")
        return self

    def write(self, line: str) -> None:
        if self.path is None:
            return
        if self._rows is not None:
            self._rows.append(json.loads(line))
        elif self._fh is not None:
            self._fh.write(line)
            self._fh.write("\n")

    def __exit__(self, *exc: Any) -> None:
        if self._fh is not None:
            self._fh.close()
            self._ctx.__exit__(*exc)
        elif self._rows is not None and exc[0] is None:
            from ..runs.writers import write_parquet

            write_parquet(self._rows, self.path)


def iter_lines(path: Path) -> Iterator[str]:
    """The JSONL lines of a file or a folder of shards (sorted by name), for tests and users reading shards."""
    files = sorted(p for p in path.iterdir() if p.suffix == ".jsonl") if path.is_dir() else [path]
    for f in files:
        with f.open(encoding="utf-8") as fh:
            yield from (line.rstrip("\n") for line in fh if line.strip())
