"""Preference exports: a run of `technique: preference` (or any records with prompt/chosen/rejected) as files that
TRL and `datasets` read.

    dpo             {"prompt", "chosen", "rejected"} as text: TRL's standard preference format (DPO, ORPO, ...)
    dpo-chat        the same as chat messages: prompt = [system?, user], chosen/rejected = [assistant]
                    (TRL's conversational preference format)
    kto             {"prompt", "completion", "label"}: unpaired, chosen true and rejected false, each
                    (prompt, completion) once (TRL's unpaired preference format, for KTO)
    ultrafeedback   one row per prompt: {"instruction", "completions": [{"strategy", "model", "response",
                    "annotations": {aspect: {"Rating", "Rationale"}}, "overall_score", "signals", "reward"}]}
                    (UltraFeedback's layout; needs the run's lineage)

Splits are dealt by prompt, so no prompt is in two splits. Each split is `<split>.jsonl` in the folder, with a
README card: `datasets.load_dataset("json", data_files={"train": ".../train.jsonl"})` or
`datasets.load_dataset(".../folder")` loads it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..errors import UsageError

PREFERENCE_FORMATS = ("dpo", "dpo-chat", "kto", "ultrafeedback")
PAIR_FIELDS = ("prompt", "chosen", "rejected")


def check_pairs(rows: Sequence[Any], where: Any, start: int = 1) -> None:
    for i, r in enumerate(rows, start):
        if not isinstance(r, dict) or any(not isinstance(r.get(k), str) or not r.get(k).strip() for k in PAIR_FIELDS):
            have = ", ".join(sorted(r)) if isinstance(r, dict) else type(r).__name__
            raise UsageError(f"{where}: record {i} is not a preference pair (needs text fields prompt, chosen and "
                             f"rejected; it has {have}); generate with `technique: preference`")


def to_dpo(row: dict[str, Any], system: str | None = None, conversational: bool = False) -> dict[str, Any]:
    if not conversational:
        prompt = f"{system}\n\n{row['prompt']}" if system else row["prompt"]
        return {"prompt": prompt, "chosen": row["chosen"], "rejected": row["rejected"]}
    prompt = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": row["prompt"]}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}]}


def _in_memory() -> Callable[..., bool]:
    seen: set[tuple[Any, ...]] = set()

    def new(*key: Any) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True
    return new


def to_kto(rows: Sequence[dict[str, Any]], system: str | None = None,
           new: Callable[..., bool] | None = None) -> list[dict[str, Any]]:
    """Each pair as two unpaired rows; a (prompt, completion) seen before (a chosen text in several pairs) once.
    `new(*key)` answers whether a key is seen for the first time (default: a set over these rows)."""
    new = new or _in_memory()
    out = []
    for r in rows:
        prompt = f"{system}\n\n{r['prompt']}" if system else r["prompt"]
        for text, label in ((r["chosen"], True), (r["rejected"], False)):
            if new(prompt, text, label):
                out.append({"prompt": prompt, "completion": text, "label": label})
    return out


def to_ultrafeedback(rows: Sequence[dict[str, Any]], metas: Sequence[dict[str, Any]],
                     new: Callable[..., bool] | None = None) -> list[dict[str, Any]]:
    """One row per prompt with every response's ratings and rationales (from the lineage)."""
    new = new or _in_memory()
    by_prompt: dict[str, dict[str, Any]] = {}
    for r, m in zip(rows, metas):
        key = str(m.get("prompt_id", r["prompt"])) + "\x00" + str(m.get("slot", ""))
        if not new("uf", key):
            continue
        responses = m.get("responses") or []
        if not responses:
            raise UsageError("--format ultrafeedback needs each pair's lineage (the run folder, or a data file "
                             "written with output.with_meta); this data has no responses in its lineage")
        comps = []
        for e in responses:
            if e.get("dropped"):
                continue
            ann = {a: {"Rating": str(v["rating"]) if v.get("rating") is not None else "N/A",
                       "Rationale": v.get("rationale", "")} for a, v in (e.get("ratings") or {}).items()}
            comps.append({"strategy": e.get("strategy"), "model": e.get("model"), "temperature": e.get("temperature"),
                          "response": e.get("text"), "annotations": ann, "overall_score": e.get("score"),
                          "signals": e.get("signals") or {}, "reward": e.get("reward")})
        by_prompt[key] = {"instruction": r["prompt"], "models": [c["model"] for c in comps], "completions": comps}
    return list(by_prompt.values())


def write_preference(records: Iterable[tuple[Any, dict[str, Any]]], manifest: dict[str, Any], fmt: str,
                     out_dir: str | Path, *, where: Any, split: str | dict[str, float] = "0.9,0,0.1",
                     system: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Write `fmt` splits and a card; returns {out_dir, counts, files, card} (export_run's summary).

    `records` yields (pair, lineage) afresh on each pass (export.dataset.RunRecords): two passes, the first
    checks every pair and plans the splits by prompt (near copies of a prompt, as export_run groups them,
    stay in one split), the second writes each pair's rows to its split's file. Memory stays flat; KTO's
    and UltraFeedback's "each once" keys live in the plan's SQLite file."""
    from ..records import dumps
    from ..userfiles import atomic_path, ensure_folder
    from .card import build_card
    from .splits import SplitPlan, parse_ratios, write_split_jsonl

    if fmt not in PREFERENCE_FORMATS:
        raise UsageError(f"--format {fmt!r}: preference formats are {', '.join(PREFERENCE_FORMATS)}")
    ratios = parse_ratios(split) if isinstance(split, str) else split
    with SplitPlan(ratios, seed) as plan:
        first = None
        for i, (row, meta) in enumerate(records, 1):
            check_pairs([row], where, start=i)
            if fmt == "ultrafeedback" and not meta.get("responses"):
                raise UsageError("--format ultrafeedback needs each pair's lineage (the run folder, or a data file "
                                 "written with output.with_meta); this data has no responses in its lineage")
            first = first or (row, meta)
            plan.add(row["prompt"])
        if first is None:
            raise UsageError(f"{where}: the run has no accepted records yet; generate some first")
        plan.deal()
        plan.db.execute("CREATE TABLE seen (k BLOB PRIMARY KEY) WITHOUT ROWID")

        def once(*key: Any) -> bool:
            h = hashlib.blake2b(dumps(list(key)), digest_size=16).digest()
            return plan.db.execute("INSERT OR IGNORE INTO seen (k) VALUES (?)", (h,)).rowcount == 1

        def rows_of(row: dict[str, Any], meta: dict[str, Any], new: Callable[..., bool]) -> list[dict[str, Any]]:
            if fmt == "kto":
                return to_kto([row], system, new)
            if fmt == "ultrafeedback":
                return to_ultrafeedback([row], [meta], new)
            return [to_dpo(row, system, conversational=fmt == "dpo-chat")]

        out = ensure_folder(out_dir, "export folder")
        files = {name: f"{name}.jsonl" for name in plan.names}
        counts = write_split_jsonl(out, files, ((name, rows_of(row, meta, once))
                                                for name, (row, meta) in zip(plan.splits(), records)))
        for n in [n for n, c in counts.items() if not c]:  # a split that got no rows gets no file
            (out / files.pop(n)).unlink()
        counts = {n: c for n, c in counts.items() if c}
        sample = rows_of(*first, lambda *key: True)
    card = build_card(manifest, counts, fmt, files, sample, system)
    with atomic_path(out / "README.md") as tmp:
        tmp.write_text(card, encoding="utf-8")
    return {"out_dir": out, "counts": counts, "files": files, "card": out / "README.md"}

