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

from pathlib import Path
from typing import Any, Sequence

from ..errors import UsageError

PREFERENCE_FORMATS = ("dpo", "dpo-chat", "kto", "ultrafeedback")
PAIR_FIELDS = ("prompt", "chosen", "rejected")


def check_pairs(rows: Sequence[Any], where: Any) -> None:
    for i, r in enumerate(rows, 1):
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


def to_kto(rows: Sequence[dict[str, Any]], system: str | None = None) -> list[dict[str, Any]]:
    """Each pair as two unpaired rows; a (prompt, completion) seen before (a chosen text in several pairs) once."""
    out, seen = [], set()
    for r in rows:
        prompt = f"{system}\n\n{r['prompt']}" if system else r["prompt"]
        for text, label in ((r["chosen"], True), (r["rejected"], False)):
            if (prompt, text, label) in seen:
                continue
            seen.add((prompt, text, label))
            out.append({"prompt": prompt, "completion": text, "label": label})
    return out


def to_ultrafeedback(rows: Sequence[dict[str, Any]], metas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per prompt with every response's ratings and rationales (from the lineage)."""
    by_prompt: dict[str, dict[str, Any]] = {}
    for r, m in zip(rows, metas):
        key = str(m.get("prompt_id", r["prompt"])) + "\x00" + str(m.get("slot", ""))
        if key in by_prompt:
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


def write_preference(rows: Sequence[Any], metas: Sequence[dict[str, Any]], manifest: dict[str, Any], fmt: str,
                     out_dir: str | Path, *, where: Any, split: str | dict[str, float] = "0.9,0,0.1",
                     system: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Write `fmt` splits (dealt by prompt) and a card; returns {out_dir, counts, files, card} (export_run's summary)."""
    from ..runs.writers import write_jsonl
    from ..userfiles import atomic_path, ensure_folder
    from .card import build_card
    from .splits import parse_ratios, split_rows

    if fmt not in PREFERENCE_FORMATS:
        raise UsageError(f"--format {fmt!r}: preference formats are {', '.join(PREFERENCE_FORMATS)}")
    if not rows:
        raise UsageError(f"{where}: the run has no accepted records yet; generate some first")
    check_pairs(rows, where)
    tagged = [{**r, "_i": i} for i, r in enumerate(rows)]
    prompts = [{"prompt": p} for p in dict.fromkeys(r["prompt"] for r in rows)]
    ratios = parse_ratios(split) if isinstance(split, str) else split
    home = {r["prompt"]: name for name, part in split_rows(prompts, ratios, seed=seed,
                                                           near_duplicate=1.0).items() for r in part}
    dealt: dict[str, list[dict[str, Any]]] = {}
    for r in tagged:
        dealt.setdefault(home[r["prompt"]], []).append(r)

    def shape(part: list[dict[str, Any]]) -> list[dict[str, Any]]:
        plain = [{k: v for k, v in r.items() if k != "_i"} for r in part]
        if fmt == "kto":
            return to_kto(plain, system)
        if fmt == "ultrafeedback":
            return to_ultrafeedback(plain, [metas[r["_i"]] for r in part])
        return [to_dpo(r, system, conversational=fmt == "dpo-chat") for r in plain]

    shaped = {n: shape(p) for n, p in dealt.items() if p}
    out = ensure_folder(out_dir, "export folder")
    files: dict[str, str] = {}
    for name, part in shaped.items():
        files[name] = f"{name}.jsonl"
        write_jsonl(part, out / files[name])
    counts = {n: len(p) for n, p in shaped.items()}
    card = build_card(manifest, counts, fmt, files, shape(dealt[next(iter(dealt))][:1]), system)
    with atomic_path(out / "README.md") as tmp:
        tmp.write_text(card, encoding="utf-8")
    return {"out_dir": out, "counts": counts, "files": files, "card": out / "README.md"}
