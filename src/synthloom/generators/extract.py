"""Extraction-based generation: real documents + a JSON schema -> (document, extraction) pairs.

Slot i reads chunk i of the corpus (mod the number of chunks; each wrap gets new
seeds, so a second pass over the documents samples new extractions). The model
answers under the recipe's schema (constrained decoding where the backend can),
the document quoted as data. Each extraction is checked with jsonschema (formats
included) and the recipe's entity rules; a failure is a `validate` rejection named
after the schema keyword or the rule (`schema:required`, `rule:sum`, ...).

A record is `{document, extraction}` (emit: pair) or chat turns for fine-tuning an
extractor (emit: messages): system = the schema, user = the document,
assistant = the JSON.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config.documents import ExtractTechnique
from ..errors import RecipeError
from ..llm.jsontext import validator
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.rules import validate_object
from ..records import Record, Rejection
from ..sources import Chunk, Corpus
from ..sources.templates import quote
from ._grounded import corpus_for, outline, parse_object, sampled
from .base import GenContext, Generator
from .schema_io import load_schema

MAX_SHOTS = 2


def training_system_prompt(schema: dict[str, Any], instruction: str | None = None) -> str:
    """The system turn of an extraction training example: the task and the schema."""
    return load_prompt("extract_train_system").render(
        instruction=instruction, schema=json.dumps(schema, ensure_ascii=False, separators=(",", ":")))


def extraction_messages(document: str, extraction: dict[str, Any], schema: dict[str, Any],
                        instruction: str | None = None) -> list[dict[str, str]]:
    """One (document, extraction) pair as chat turns: system = schema, user = document, assistant = JSON."""
    return [
        {"role": "system", "content": training_system_prompt(schema, instruction)},
        {"role": "user", "content": document},
        {"role": "assistant", "content": json.dumps(extraction, ensure_ascii=False)},
    ]


class ExtractionGenerator(Generator):
    technique = "extract"

    def __init__(self, config: ExtractTechnique, base_dir: Path, corpus: Corpus | None = None) -> None:
        self.config = config
        self.schema = load_schema(config.json_schema, base_dir, "generate.schema")
        self.validator = validator(self.schema)
        self.corpus = corpus if corpus is not None else corpus_for(config, base_dir)
        self.system_prompt = load_prompt("extract_system")
        self.user_prompt = load_prompt("extract_user")
        instruction = config.instruction or self.schema.get("description") or self.schema.get("title")
        self.instruction = instruction
        self._system_text = self.system_prompt.render(instruction=instruction, fields=outline(self.schema))
        for i, ex in enumerate(config.examples):
            problem = validate_object(ex["extraction"], validator=self.validator)
            if problem:
                raise RecipeError(f"generate.examples[{i}].extraction does not match the schema ({problem[1]})")
        self._shots: list[dict[str, str]] = []
        for ex in config.examples[:MAX_SHOTS]:
            self._shots.append({"role": "user", "content": self._user_text(str(ex["document"]), None)})
            self._shots.append({"role": "assistant", "content": json.dumps(ex["extraction"], ensure_ascii=False)})
        self._train_system = training_system_prompt(self.schema, config.instruction)

    @property
    def skipped(self) -> list:
        return self.corpus.skipped

    def _user_text(self, text: str, heading: str | None) -> str:
        return self.user_prompt.render(document=quote(text, "document"), heading=heading)

    def describe(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "templates": {p.name: p.hash for p in (self.system_prompt, self.user_prompt)},
            "documents": len(self.corpus.documents),
            "chunks": len(self.corpus.chunks),
            "skipped": [str(s) for s in self.corpus.skipped],
            "rules": [r.key() for r in self.config.rules],
            "examples": len(self.config.examples),
            "emit": self.config.emit,
        }

    def chunk_for(self, slot: int) -> Chunk:
        return self.corpus.chunks[slot % len(self.corpus.chunks)]

    def request_for(self, slot: int, ctx: GenContext) -> tuple[GenerationRequest, dict[str, Any], Chunk]:
        chunk = self.chunk_for(slot)
        heading = chunk.heading if len(chunk.heading_path) > 0 and chunk.index > 0 else None
        messages = [{"role": "system", "content": self._system_text}, *self._shots,
                    {"role": "user", "content": self._user_text(chunk.text, heading)}]
        seed = ctx.request_seed(slot)
        request = GenerationRequest(messages=tuple(messages), json_schema=self.schema, seed=seed,
                                    **sampled(self.config.sampling))
        meta = {
            "technique": self.technique,
            "template": self.system_prompt.name,
            "template_hash": self.system_prompt.hash + self.user_prompt.hash,
            "source_ids": [chunk.id],
            "doc_id": chunk.doc_id,
            "heading_path": list(chunk.heading_path),
            "pass": slot // len(self.corpus.chunks),
            "seed": seed,
            "slot": slot,
        }
        return request, meta, chunk

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        request, meta, chunk = self.request_for(slot, ctx)
        (result,) = await ctx.llm.generate([request])
        meta["model"] = result.model
        value, rejection = parse_object(result, meta)
        if rejection is not None:
            return [rejection]
        problem = validate_object(value, validator=self.validator, rules=self.config.rules, document=chunk.text)
        if problem is not None:
            return [Rejection(stage="validate", reason=problem[0], detail=problem[1],
                              data={"document": chunk.text, "extraction": value}, raw=result.text, meta=meta)]
        return [Record(data=self.record_data(chunk.text, value), meta=meta)]

    def record_data(self, document: str, extraction: dict[str, Any]) -> dict[str, Any]:
        if self.config.emit == "messages":
            return {"messages": [
                {"role": "system", "content": self._train_system},
                {"role": "user", "content": document},
                {"role": "assistant", "content": json.dumps(extraction, ensure_ascii=False)},
            ]}
        return {"document": document, "extraction": extraction}


def build(config: ExtractTechnique, base_dir: Path) -> ExtractionGenerator:
    return ExtractionGenerator(config, base_dir)
