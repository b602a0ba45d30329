"""`distill`: teacher -> gates -> split -> student -> evaluation -> one report, resumable stage by stage.

A distill file names the teacher's recipe (a path relative to the file, or the recipe inline), the
student and the real data to score it on:

    name: distill-intents
    teacher: intents-schema.yaml          # generate -> gates, as `synthloom run` does it
    count: 200                            # optional: override the recipe's count
    student: {kind: classifier}           # or {kind: lora, max_steps: 60, ...}
    eval: {data: intents-real.csv}        # optional: real labelled data (the honest test)
    output: demo-out/distill-intents

Stages: the generation replays from the run's call cache; training and each evaluation are skipped
when their inputs (settings and data file digest) are those of the finished stage (`stages.json`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RecipeError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudentSpec(_Strict):
    kind: Literal["classifier", "lora"] = "classifier"
    text_field: str | None = None
    label_field: str | None = None
    split: str | None = Field(None, description="classifier default 0.8,0,0.2; lora 0.8,0.1,0.1")
    min_per_label: int = 5
    base: str | None = None
    system: str | None = None
    rank: int | None = None
    alpha: int | None = None
    lr: float | None = None
    max_steps: int | None = None
    epochs: float | None = None
    batch_size: int | None = None
    max_length: int | None = None
    seed: int = 0


class EvalSpec(_Strict):
    data: str | None = Field(None, description="real labelled data, JSONL or CSV (relative to the distill file)")
    text_field: str | None = None
    label_field: str | None = None
    teacher: bool = Field(False, description="lora: also score the teacher prompt (few-shot, constrained)")
    limit: int | None = Field(None, gt=0, description="lora: score the first N examples of each file")


class DistillSpec(_Strict):
    name: str
    teacher: str | dict[str, Any]
    count: int | None = Field(None, gt=0)
    student: StudentSpec = StudentSpec()
    eval: EvalSpec = EvalSpec()
    output: str | None = None


def load_distill(path: str | Path, count: int | None = None) -> tuple[DistillSpec, Any, Path]:
    """(spec, teacher recipe, the teacher recipe's folder) from a distill YAML file."""
    from ..engine.recipe_file import describe_validation_error, load_recipe, recipe_from_dict

    p = Path(path)
    if not p.is_file():
        raise RecipeError(f"{p}: distill file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "teacher" not in data:
        raise RecipeError(f"{p}: a distill file is a mapping with `teacher:` (a recipe file or an inline recipe), "
                          "`student:` and optionally `eval:`; to run a plain recipe use `synthloom run`")
    try:
        spec = DistillSpec.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(describe_validation_error(exc, str(p), data)) from None
    if count is not None:
        if count <= 0:
            raise RecipeError(f"--count must be > 0 (got {count})")
        spec.count = count
    overrides = {"count": spec.count} if spec.count else None
    if isinstance(spec.teacher, str):
        tpath = p.parent / spec.teacher
        recipe = load_recipe(tpath, overrides)
        return spec, recipe, tpath.parent
    recipe = recipe_from_dict({**spec.teacher, **(overrides or {})}, f"{p}: teacher")
    return spec, recipe, p.parent


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def distill(path: str | Path, *, output: str | Path | None = None, count: int | None = None, on_progress: Callable | None = None,
            on_step: Callable | None = None, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every stage that is not finished; returns the report (also written as report.md / report.json)."""
    from ..engine import run_recipe
    from ..export.dataset import export_declared
    from .evaluate import evaluate, report_markdown
    from ..sources.labels import load_label_set
    from .students import train_classifier

    spec, recipe, base_dir = load_distill(path, count)
    here = Path(path).parent
    out = Path(output or spec.output or Path("out") / spec.name)
    out.mkdir(parents=True, exist_ok=True)
    stages_file = out / "stages.json"
    stages = json.loads(stages_file.read_text()) if stages_file.is_file() else {}

    def save_stages() -> None:
        stages_file.write_text(json.dumps(stages, indent=2))

    # 1. teacher: generate -> gates (the run store makes a re-run replay from its cache)
    log(f"teacher: {recipe.name}, {recipe.count} records")
    summary = run_recipe(recipe, base_dir=base_dir, output=out / "teacher", on_progress=on_progress,
                         exporter=export_declared)
    data_file = out / "teacher" / "data.jsonl"
    stages["generate"] = {"accepted": summary.accepted, "target": summary.target, "calls": summary.calls,
                          "cache_hits": summary.cache_hits, "wall_s": round(summary.wall_s, 1),
                          "funnel": summary.funnel, "completion_tokens": summary.completion_tokens}
    save_stages()
    if summary.accepted == 0:
        raise RecipeError(f"{path}: the teacher produced no accepted records; see `synthloom report {out / 'teacher'}`")

    # 2. student
    st = spec.student
    student_dir = out / "student"
    key = _key(st.model_dump(), _digest(data_file))
    if stages.get("train", {}).get("key") == key and (student_dir / "student.json").is_file():
        log("student: trained already (same data and settings)")
    else:
        log(f"student: training a {st.kind} student")
        if st.kind == "classifier":
            given = getattr(recipe.generate, "labels", None)  # the classification recipe's label set, as it loads
            train_classifier(out / "teacher", student_dir, text_field=st.text_field, label_field=st.label_field,
                             split=st.split or "0.8,0,0.2", min_per_label=st.min_per_label, seed=st.seed,
                             label_set=load_label_set(given, base_dir) if given else None)
        else:
            from .lora import train_lora

            knobs = {k: getattr(st, k) for k in ("rank", "alpha", "lr", "max_steps", "epochs", "batch_size",
                                                 "max_length")}
            train_lora(out / "teacher", student_dir, base=st.base, split=st.split or "0.8,0.1,0.1", system=st.system,
                       on_step=on_step, seed=st.seed, **knobs)
        stages["train"] = {"key": key}
        stages.pop("evaluate", None)
        save_stages()

    # 3. evaluation: the held-out synthetic split, then the real data
    files = {"synthetic": student_dir / "test.jsonl"}
    if spec.eval.data:
        files["real"] = Path(os.path.normpath(here / spec.eval.data))
    evals = stages.setdefault("evaluate", {})
    results: dict[str, Any] = {}
    for which, f in files.items():
        if not f.is_file():
            if which == "real":
                raise RecipeError(f"{path}: eval.data: {f} does not exist; give a JSONL or CSV file of labelled examples")
            continue
        ekey = _key(stages["train"]["key"], _digest(f), spec.eval.model_dump())
        cached = out / f"eval_{which}.json"
        if evals.get(which) == ekey and cached.is_file():
            log(f"evaluate ({which}): done already")
            results[which] = json.loads(cached.read_text())
            continue
        log(f"evaluate ({which}): {f}")
        opts = {"teacher": spec.eval.teacher} if st.kind == "lora" else {}
        rep = evaluate(student_dir, f, text_field=spec.eval.text_field if which == "real" else None,
                       label_field=spec.eval.label_field if which == "real" else None, data_kind_=which,
                       limit=spec.eval.limit, **opts)
        cached.write_text(json.dumps(rep, indent=2, default=str))
        evals[which] = ekey
        save_stages()
        results[which] = rep

    report = {"name": spec.name, "student": st.kind, "teacher": stages["generate"], "evaluations": results}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    md = [f"# Distillation report: {spec.name}", "",
          f"Teacher: recipe `{recipe.name}`, {summary.accepted}/{summary.target} records accepted "
          f"({summary.calls} calls, {summary.cache_hits} from the cache). Student: {st.kind} in `{student_dir}`.", ""]
    if (student_dir / "loss_curve.png").is_file():
        md += ["![loss curve](student/loss_curve.png)", ""]
    for which, rep in results.items():
        md += ["## " + ("Held-out synthetic split" if which == "synthetic" else "Real data"), "",
               report_markdown(rep).split("\n", 2)[2], ""]
    _comparison_png(results, out / "comparison.png")
    if (out / "comparison.png").is_file():
        md += ["![before and after](comparison.png)", ""]
    (out / "report.md").write_text("\n".join(md))
    report["report_md"] = str(out / "report.md")
    return report


def _comparison_png(results: dict[str, Any], path: Path) -> None:
    from ..errors import MissingDependencyError
    from ..export.figures import figure as _figure, save as _save
    from .metrics import headline

    try:
        fig = _figure(8.0, 3.4)
    except MissingDependencyError:
        return
    ax = fig.add_subplot()
    labels, values, colors = [], [], []
    palette = ["#b0b7c3", "#3b6ea8", "#5a9e5a", "#c0504d"]
    name = "score"
    for which, rep in results.items():
        name = headline(rep)[0]
        for i, (who, row) in enumerate((rep.get("comparison") or {"student": rep}).items()):
            v = row.get("accuracy", row.get("f1", row.get("rouge_l")))
            if v is None:
                continue
            labels.append(f"{which}: {who}"[:64])
            values.append(v)
            colors.append(palette[i % len(palette)])
    if not values:
        return
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel(name)
    ax.invert_yaxis()
    _save(fig, path)
