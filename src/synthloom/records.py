"""Data in flight: records and rejected candidates.

A `Record` is what a generator proposes and a gate accepts. Its `data` holds the
record's own fields (what goes into the dataset): a JSON object for every technique, or any
JSON value (an array, a string, a number...) for a schema whose root is not an object; `meta` holds lineage: technique,
model, prompt template and its hash, seed, slot, parent record or document,
sampled attributes, scores, attempt number. Lineage stays in the run store and is
exported only on request.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import orjson


def dumps(value: Any, sort_keys: bool = False) -> bytes:
    """JSON bytes; orjson, or the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0))
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=str).encode()


_LONG_INT = re.compile(rb"\d{19}")


def loads(data: bytes | str) -> Any:
    """Parse JSON; integers beyond 64 bits keep their exact value (orjson would make them floats)."""
    raw = data.encode() if isinstance(data, str) else data
    return json.loads(raw) if _LONG_INT.search(raw) else orjson.loads(raw)


def canonical_json(value: Any) -> bytes:
    """Stable JSON bytes (sorted keys) for hashing."""
    return dumps(value, sort_keys=True)


def content_hash(value: Any, size: int = 16) -> str:
    return hashlib.blake2b(canonical_json(value), digest_size=size).hexdigest()


def fields_of(data: Any) -> dict[str, Any]:
    """The record's named fields: its data when that is an object, else none (an array or string record)."""
    return data if isinstance(data, dict) else {}


def kind_of(data: Any) -> str:
    """The JSON type of a record's data, as a user reads it: object, array, string, number, boolean, null."""
    if isinstance(data, dict):
        return "object"
    if isinstance(data, (list, tuple)):
        return "array"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if data is None:
        return "null"
    return "number"


@dataclass(frozen=True, slots=True)
class Record:
    data: Any  # a JSON object (dict) except from a schema whose root is an array, a string or a union
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Content id of the record's data (stable across runs)."""
        return content_hash(self.data, 8)

    def with_meta(self, **updates: Any) -> "Record":
        return replace(self, meta={**self.meta, **updates})

    def with_scores(self, **scores: Any) -> "Record":
        merged = {**self.meta.get("scores", {}), **scores}
        return replace(self, meta={**self.meta, "scores": merged})


@dataclass(frozen=True, slots=True)
class Rejection:
    """A candidate that did not make it, and why.

    stage: where it fell out of the funnel: parse, validate, filter, dedup,
    judge, label, diversity (or a technique's own stage name).
    reason: a short stable key (e.g. `schema:required`, `rouge_l>0.7`), used to
    group rejections in the report. detail: a human sentence for this one case.
    """

    stage: str
    reason: str
    detail: str = ""
    data: Any = None
    raw: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, rec: Record, stage: str, reason: str, detail: str = "") -> "Rejection":
        return cls(stage=stage, reason=reason, detail=detail, data=rec.data, meta=rec.meta)


class Problem(NamedTuple):
    """Why one record (or one field of it) fails a check: the one form every check returns, or None.

    reason: the short stable key a rejection carries (`language:wrong`, `rule:due_after_issue`);
    detail: the sentence for this case. A tuple, so `reason, detail = problem` reads it.
    """

    reason: str
    detail: str

    def rejection(self, stage: str = "filter", data: Any = None, raw: str | None = None,
                  meta: dict[str, Any] | None = None) -> Rejection:
        """This problem as the rejection of a candidate that is not a `Record` yet."""
        return Rejection(stage=stage, reason=self.reason, detail=self.detail, data=data, raw=raw, meta=meta or {})

    def reject(self, rec: Record, stage: str = "filter") -> Rejection:
        """This problem as the rejection of `rec`."""
        return Rejection.of(rec, stage, self.reason, self.detail)

