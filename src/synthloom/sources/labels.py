"""A label set: the classes a classifier must tell apart, each with a description and examples.

    labels = load_label_set("examples/labels/intents.yaml")     # a YAML/JSON file
    labels = load_label_set([{"name": "refund", "description": "..."}, ...])   # inline, as in a recipe
    labels.names            # ["refund", ...]
    labels.get("refund")    # Label(name, description, examples, counter_examples, weight)

A file holds a list of labels, a mapping `label: description`, or a mapping with `labels:` and optional
`task:` (what is being classified) and `multi_label:` (a text may carry several
labels). Shared by every technique that writes or checks labelled text
(classification, augment, label verification).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputFileError


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(..., min_length=1, description="the label as it appears in the data")
    description: str = Field(..., description="what a text with this label is about (the writer and the checker read it)")
    examples: list[str] = Field(default_factory=list, description="texts with this label")
    counter_examples: list[str] = Field(default_factory=list, description="texts that look close but are NOT this label")
    weight: float | None = Field(None, gt=0, description="share of the data when the distribution is `weights`")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("a label name must not be empty")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the description is empty: say in a sentence what a text with this label is about")
        return v.strip()


class LabelSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: list[Label]
    task: str | None = Field(None, description="what is being classified, e.g. 'the intent of a banking customer's message'")
    multi_label: bool = Field(False, description="a text may carry several labels (the label field is then a list)")

    @model_validator(mode="after")
    def _valid(self) -> "LabelSet":
        if len(self.labels) < 2:
            raise ValueError(f"a label set needs at least two labels (got {len(self.labels)}): "
                             "a classifier with one class learns nothing; add the others (or an out-of-scope label)")
        seen: dict[str, str] = {}
        for lab in self.labels:
            key = lab.name.casefold()
            if key in seen:
                raise ValueError(f"duplicate label name {lab.name!r} (also {seen[key]!r}): give each label once")
            seen[key] = lab.name
        return self

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def get(self, name: str) -> Label:
        for lab in self.labels:
            if lab.name == name:
                return lab
        raise KeyError(name)

    def canonical(self, value: Any) -> str | None:
        """The label name a model's answer means (case and spacing ignored), or None."""
        norm = " ".join(str(value).strip().casefold().replace("-", "_").split())
        for name in self.names:
            if " ".join(name.casefold().replace("-", "_").split()) == norm:
                return name
        return None


def _describe(exc: ValidationError, origin: str) -> str:
    # a misspelt field explains the 'missing' one next to it: name the typo first
    err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field: remove it or check its spelling (a label has name, description, examples, counter_examples, weight)"
    elif err["type"] == "missing":
        msg = "required field is missing: add it"
    return f"{origin}: {loc + ': ' if loc else ''}{msg}"


def load_label_set(source: str | Path | list | dict | LabelSet, base_dir: str | Path | None = None,
                   origin: str | None = None) -> LabelSet:
    """A label set from a YAML/JSON file (path relative to `base_dir`), an inline list, or a mapping.

    Every problem (one label, duplicate names, an empty description, an unknown field) is an
    `InputFileError` naming the file (or `origin`) and the field.
    """
    if isinstance(source, LabelSet):
        return source
    where = origin or "labels"
    data: Any = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        where = origin or str(path)
        if not path.is_file():
            raise InputFileError(f"{path}: label set not found; give a YAML file with a list of labels "
                                 "(name, description, examples)")
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path}: cannot read the label set ({exc}); give a UTF-8 YAML file") from None
        except yaml.YAMLError as exc:
            raise InputFileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    if isinstance(data, list):
        data = {"labels": data}
    elif isinstance(data, dict) and "labels" not in data and data and all(isinstance(v, str) for v in data.values()):
        data = {"labels": [{"name": k, "description": v} for k, v in data.items()]}  # {label: description}
    if not isinstance(data, dict):
        raise InputFileError(f"{where}: a label set is a list of labels, or a mapping with `labels:`")
    labels = data.get("labels")
    if isinstance(labels, list):  # `- refund` is a label without a description: say so, not 'not a dict'
        for i, lab in enumerate(labels):
            if not isinstance(lab, dict):
                raise InputFileError(f"{where}: labels.{i}: {lab!r} is not a label; write it as "
                                     "{name: ..., description: ...}")
    try:
        return LabelSet.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(_describe(exc, where)) from None


def target_counts(names: list[str], n: int, distribution: Any, weights: dict[str, float] | None = None,
                  where: str = "distribution") -> dict[str, int]:
    """How many records each label gets out of `n`.

    distribution: "balanced" (equal shares), "weights" (each label's `weight`, default 1), or a
    mapping label -> count that must add up to n. Shares are rounded by largest remainder, so
    the counts add up to n exactly and a rare label gets its share, not zero by rounding down
    (unless its share is below half a record).
    """
    from ..errors import RecipeError

    if isinstance(distribution, dict):
        unknown = [k for k in distribution if k not in names]
        if unknown:
            raise RecipeError(f"{where}: {', '.join(map(repr, unknown))} not in the label set ({', '.join(names)})")
        counts = {name: int(distribution.get(name, 0)) for name in names}
        if any(c < 0 for c in counts.values()):
            raise RecipeError(f"{where}: counts must be >= 0")
        total = sum(counts.values())
        if total != n:
            raise RecipeError(f"{where}: the counts add up to {total}, but count is {n}: make them add up to "
                              f"the count (or use distribution: balanced / weights)")
        return counts
    if distribution == "balanced":
        shares = {name: 1.0 for name in names}
    elif distribution == "weights":
        shares = {name: float((weights or {}).get(name) or 1.0) for name in names}
    else:
        raise RecipeError(f"{where}: {distribution!r} is not balanced, weights, or a mapping label -> count")
    total = sum(shares.values())
    exact = {name: n * s / total for name, s in shares.items()}
    counts = {name: int(v) for name, v in exact.items()}
    left = n - sum(counts.values())
    for name in sorted(names, key=lambda k: (-(exact[k] - counts[k]), names.index(k)))[:left]:
        counts[name] += 1
    return counts


def read_labelled(path: str | Path, text_field: str = "text", label_field: str | None = "label",
                  base_dir: str | Path | None = None, what: str = "labelled data") -> list[dict[str, Any]]:
    """Rows of a real labelled file (JSONL or CSV) that hold `text_field` (and `label_field`).

    A missing file, a bad line, or a row without the named fields is an `InputFileError` naming
    the file, the line and the field.
    """
    import csv
    import json

    p = Path(path)
    if base_dir is not None and not p.is_absolute():
        p = Path(base_dir) / p
    if not p.is_file():
        raise InputFileError(f"{p}: {what} not found; give a JSONL or CSV file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p}: cannot read {what} ({exc}); give a UTF-8 JSONL or CSV file") from None
    rows: list[tuple[int, Any]] = []
    if p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = [(i + 2, row) for i, row in enumerate(reader)]
    else:
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((i, json.loads(line)))
            except ValueError:
                raise InputFileError(f"{p}: line {i} is not JSON; give one JSON object per line (or a .csv)") from None
    if not rows:
        raise InputFileError(f"{p}: no rows; {what} needs at least one record")
    out = []
    for line, row in rows:
        if not isinstance(row, dict):
            raise InputFileError(f"{p}: line {line} is not an object with fields {text_field!r}, {label_field!r}")
        for name in (text_field, label_field):
            if name and (name not in row or row[name] in (None, "")):
                have = ", ".join(map(repr, list(row)[:8]))
                raise InputFileError(f"{p}: line {line} has no field {name!r} (fields: {have}); "
                                     f"name the right one with --text-field / --label-field (text_field / label_field)")
        if not isinstance(row[text_field], str):
            raise InputFileError(f"{p}: line {line}: {text_field!r} is not text")
        out.append(row)
    return out
