"""One run split over N drivers: `synthloom run RECIPE --shard i/N`, then `synthloom merge`.

A shard owns the slots with `slot % N == i` of the run's slot budget and makes its share of the
count (`Shard.target`), in its own run directory with its own store, so it resumes alone after a
crash. A slot's records depend only on the recipe, its seed and the slot number, so shard i makes
exactly the unsharded run's records of its slots. What spans shards is left to the merge
(`merge_runs`): it reads the shards' records in slot order, runs the exact and near dedup gates of
the recipe across them (keeping the first of each group, as one driver would), and writes one run
directory: a store with every shard's records, rejections and usage, the data file and the manifest.
"""
from __future__ import annotations

import asyncio
import heapq
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import InputFileError, UsageError
from ..records import Record, Rejection

SHARD_PATTERN = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str | "Shard" | None, where: str = "--shard") -> "Shard | None":
        """`i/N` (0 <= i < N) -> Shard; None -> None. A bad value is one UsageError saying the form."""
        if text is None or isinstance(text, Shard):
            return text
        m = SHARD_PATTERN.match(str(text))
        if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
            raise UsageError(f"{where}: {text!r} is not a shard: give i/N with 0 <= i < N, e.g. 0/4 (the first of four)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, slot: int) -> bool:
        return slot % self.count == self.index

    def target(self, count: int) -> int:
        """This shard's share of `count` records: the shares of the N shards add up to `count`."""
        return count // self.count + (1 if self.index < count % self.count else 0)


# ------------------------------------------------------------------------------------------ merge

@dataclass
class MergeSummary:
    run_dir: Path
    output_path: Path
    shards: list[dict[str, Any]]
    accepted: int
    target: int
    dropped: list[tuple[str, int]]  # (reason, count) of the records the cross-shard gates dropped
    surplus: int = 0  # records past the merge's count (shards run with a larger -n)

    @property
    def complete(self) -> bool:
        return self.accepted >= self.target


def _shard_runs(run_dirs: Sequence[str | Path]) -> list[tuple[Path, Any, str, Shard]]:
    """(run dir, store, run id, shard) of each given shard, checked to be the N shards of one recipe."""
    from ..runs import open_store

    if not run_dirs:
        raise UsageError("merge: give the run directories of a sharded run's shards")
    out, seen = [], {}
    try:
        for d in run_dirs:
            store = open_store(d, "the run directory of a shard (`synthloom run RECIPE --shard i/N -o DIR`)")
            info = store.run_info()
            shard = (info.get("recipe") or {}).get("_shard")
            if not shard:
                store.close()
                raise InputFileError(f"{d}: this run is not a shard (it was not run with --shard i/N); merge joins shards")
            out.append((Path(d), store, info["run_id"], Shard.parse(shard, f"{d}: shard")))
        base = {_base_recipe(s.run_info(rid)["recipe"]) for _, s, rid, _ in out}
        if len(base) > 1:
            raise InputFileError("merge: the run directories hold shards of different recipes (or seeds): "
                                 + ", ".join(f"{d} ({sh})" for d, _, _, sh in out))
        counts = {sh.count for *_, sh in out}
        if len(counts) > 1:
            raise InputFileError(f"merge: the shards split the run differently ({', '.join(str(sh) for *_, sh in out)})")
        n = counts.pop()
        for d, _, _, sh in out:
            if sh.index in seen:
                raise InputFileError(f"merge: shard {sh} is given twice ({seen[sh.index]} and {d})")
            seen[sh.index] = d
        missing = [f"{i}/{n}" for i in range(n) if i not in seen]
        if missing:
            raise InputFileError(f"merge: shard {', '.join(missing)} is missing: run it "
                                 f"(`synthloom run RECIPE --shard {missing[0]} -o DIR`) and give its run directory too")
        return sorted(out, key=lambda t: t[3].index)
    except BaseException:
        for _, s, _, _ in out:
            s.close()
        raise


def _base_recipe(recipe: dict[str, Any]) -> bytes:
    from ..records import dumps

    # what makes a slot's records (runner.run_identity): not the count, budgets, concurrency or output
    ident = {k: recipe.get(k) for k in ("generate", "quality", "model", "checks")}
    ident["seed"] = (recipe.get("engine") or {}).get("seed")
    return dumps(ident)


def _in_slot_order(stores: list[tuple[Path, Any, str, Shard]]) -> Iterator[tuple[int, int, Shard, Record]]:
    """Every shard's accepted records, in (slot, order within the slot): an unsharded run's order at concurrency 1."""
    def one(store: Any, rid: str, shard: Shard) -> Iterator[tuple[int, int, Shard, Record]]:
        for slot, seq, rec in store.iter_by_slot(rid):
            yield slot, seq, shard, rec

    return heapq.merge(*(one(s, rid, sh) for _, s, rid, sh in stores), key=lambda t: (t[0], t[1]))


def cross_shard_gates(recipe: dict[str, Any]) -> list[Any]:
    """The recipe's dedup gates (exact, near, semantic) without their reference files: each shard has
    checked its records against those already; what is left is one shard's record repeating another's."""
    from ..quality.dedup import DedupGate

    gates = []
    for g in recipe.get("quality") or []:
        if g.get("gate") != "dedup":
            continue
        method = g.get("method", "exact")
        threshold = g.get("threshold") if method != "exact" else None
        embedder = None
        if method == "semantic":
            from ..quality.embeddings import make_embedder

            embedder = make_embedder(g.get("embedding"))
        gates.append(DedupGate(method, threshold, g.get("fields"), ngram=g.get("ngram", 5), unit=g.get("unit", "char"),
                               num_perm=g.get("num_perm", 128), backend=g.get("backend", "auto"), embedder=embedder))
    return gates


def merge_runs(run_dirs: Sequence[str | Path], output: str | Path | None = None, *, count: int | None = None,
               fmt: str | None = None, with_meta: bool | None = None) -> MergeSummary:
    """Join the shards of one sharded run into one run directory (store, data file, manifest).
    Synchronous wrapper around `amerge_runs` (do not call from inside an event loop)."""
    return asyncio.run(amerge_runs(run_dirs, output, count=count, fmt=fmt, with_meta=with_meta))


async def amerge_runs(run_dirs: Sequence[str | Path], output: str | Path | None = None, *, count: int | None = None,
                      fmt: str | None = None, with_meta: bool | None = None) -> MergeSummary:
    """Join the shards of one sharded run into one run directory (store, data file, manifest).

    count: the merged run's target (default: the shards' recipe count). The merge keeps the first `count`
    records in slot order that pass the cross-shard gates; the rest are surplus. Shards run with a
    larger -n than the merge's count make up for what the cross-shard dedup drops."""
    if count is not None and count <= 0:
        raise UsageError(f"merge: -n/--count must be > 0 (got {count})")
    from ..runs import RunStore, resolve_output, write_manifest
    from ..runs.writers import write_records
    from ..userfiles import check_file, check_folder
    from .cost import price_table, usage_cost

    shards = _shard_runs(run_dirs)
    try:
        first = shards[0][1].run_info(shards[0][2])
        recipe = dict(first["recipe"])
        recipe.pop("_shard", None)
        target = count or max(int(s.run_info(rid)["recipe"].get("count") or 0) for _, s, rid, _ in shards)
        recipe["count"] = target
        data_path, run_dir = resolve_output(output or (recipe.get("output") or {}).get("path"), recipe.get("name") or "merged")
        check_file(data_path, "output file", str(output) if output else None)
        check_folder(run_dir, "run folder", str(output) if output else None)
        if any(run_dir.resolve() == d.resolve() for d, *_ in shards):
            raise UsageError(f"merge: -o {output} is one of the shards' run directories: give a new folder or file")
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp_store = run_dir / f".merge-{os.getpid()}.sqlite"
        for p in (tmp_store, Path(f"{tmp_store}-wal"), Path(f"{tmp_store}-shm")):
            p.unlink(missing_ok=True)
        gates = cross_shard_gates(recipe)
        from ..quality.base import GateContext, admit

        ctx = GateContext(target=target)
        merged = RunStore(tmp_store)
        try:
            run_id = first["run_id"] if len(shards) == 1 else _merged_id(shards)
            merged.begin_run(run_id, recipe.get("name") or "merged", recipe, first.get("versions") or {})
            dropped: dict[str, int] = {}
            batch: list[tuple[int, list[Record], list[Rejection]]] = []
            kept = surplus = 0
            for slot, _seq, shard, rec in _in_slot_order(shards):
                if kept >= target:
                    surplus += 1
                    batch.append((slot, [], [Rejection.of(rec, "surplus", "target_reached",
                                                          f"the merge's count ({target}) was already met")]))
                    continue
                out = await admit(rec, gates, ctx)
                if isinstance(out, Rejection):
                    dropped[out.reason] = dropped.get(out.reason, 0) + 1
                    out = Rejection(stage=out.stage, reason=out.reason,
                                    detail=f"{out.detail} (found by the merge: this record is from shard {shard})",
                                    data=out.data, raw=out.raw, meta=out.meta)
                    batch.append((slot, [], [out]))
                else:
                    kept += 1
                    batch.append((slot, [out], []))
                if len(batch) >= 2000:
                    merged.commit_batch(run_id, [], batch, {})
                    batch = []
            merged.commit_batch(run_id, [], batch, {})
            described = []
            for d, s, rid, sh in shards:
                merged.import_run(s, rid, run_id)
                info = s.run_info(rid)
                described.append({"shard": str(sh), "run_dir": str(d), "status": info["status"],
                                  "accepted": s.accepted_count(rid), "wall_s": round(info["wall_s"] or 0.0, 3)})
            accepted = merged.accepted_count(run_id)
            all_done = all(x["status"] == "complete" for x in described)
            merged.end_run(run_id, "complete" if all_done and accepted >= target else "incomplete",
                           max(x["wall_s"] for x in described))
            manifest = merged.manifest(run_id)
        finally:
            merged.close()
        for p in (Path(f"{tmp_store}-wal"), Path(f"{tmp_store}-shm")):
            p.unlink(missing_ok=True)
        from ..runs.rundir import store_path

        os.replace(tmp_store, store_path(run_dir))
        out_cfg = recipe.get("output") or {}
        keep_meta = out_cfg.get("with_meta", False) if with_meta is None else with_meta
        with RunStore(store_path(run_dir)) as store:
            write_records(store.iter_accepted(run_id), data_path, fmt or out_cfg.get("format"), keep_meta)
        manifest["output"] = str(data_path)
        manifest["stopped_by"] = "merge"
        manifest["cost"] = usage_cost(manifest["usage"], price_table(recipe))
        manifest["shards"] = described
        manifest["merge"] = {"gates": [g.name for g in gates],
                             "dropped": [{"reason": r, "count": n} for r, n in sorted(dropped.items())]}
        write_manifest(run_dir, manifest)
        return MergeSummary(run_dir=run_dir, output_path=data_path, shards=described, accepted=accepted,
                            target=target, dropped=sorted(dropped.items()), surplus=surplus)
    finally:
        for _, s, _, _ in shards:
            s.close()


def _merged_id(shards: list[tuple[Path, Any, str, Shard]]) -> str:
    from ..records import content_hash

    return content_hash(sorted(rid for _, _, rid, _ in shards), 8)
