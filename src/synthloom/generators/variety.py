"""A technique's planned variety: its samplers (sources/samplers.py), and the lists the model writes
before the first record: personas ("who would ask this?") and the leaves of a topic tree.

`prepare(ctx)` writes those lists once per run, from seeded requests, so a re-run replays them from
the call cache and draws the same values. Personas and sibling topics are deduplicated (same words
in another order, or most words shared, count as one). `draw(slot, ctx)` gives a slot's values;
`describe()` gives what the manifest keeps: each sampler's target distribution (the report puts the
accepted records' distribution beside it) and the planned lists (the report names leaves never
reached).
"""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Mapping

from ..config.samplers import PersonasSampler, TopicTreeSampler
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..records import content_hash
from ..sources.samplers import Samplers, shown
from .base import GenContext

SIMILAR = 0.6  # word-set overlap from which two personas or sibling topics count as one
PATH_SEP = " > "


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def distinct(candidates: list[str], taken: list[str] = (), similar: float = SIMILAR) -> list[str]:
    """`candidates` in order, less empties, those near one kept before or one of `taken`."""
    kept: list[str] = []
    seen = [_words(t) for t in taken]
    for text in candidates:
        text = " ".join(str(text).split()).strip(" .-*")
        w = _words(text)
        if not w or any(len(w & s) / len(w | s) >= similar for s in seen):
            continue
        kept.append(text)
        seen.append(w)
    return kept


def _seed(ctx: GenContext, *parts: Any) -> int:
    return int(content_hash([ctx.seed, "plan", *parts], 4), 16) & 0x7FFFFFFF


class Variety:
    """The samplers of one technique, planned on first use."""

    def __init__(self, configs: Mapping[str, Any], base_dir: Path, task: str | None,
                 origin: str = "generate.samplers") -> None:
        self.samplers = Samplers(configs, base_dir, origin)
        self.task = task or ""
        self.origin = origin
        self.trees: dict[str, dict[str, Any]] = {}
        self._lock: asyncio.Lock | None = None

    def __bool__(self) -> bool:
        return bool(self.samplers.configs)

    @property
    def names(self) -> list[str]:
        return list(self.samplers.configs)

    async def prepare(self, ctx: GenContext) -> None:
        if not self.samplers.to_plan():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            for name, cfg in self.samplers.to_plan().items():
                if isinstance(cfg, PersonasSampler):
                    self.samplers.plan(name, await self._personas(name, cfg, ctx))
                else:
                    self.samplers.plan(name, await self._leaves(name, cfg, ctx))

    def draw(self, slot: int, ctx: GenContext) -> dict[str, Any]:
        return self.samplers.draw(ctx.seed, slot)

    def shown(self, values: Mapping[str, Any]) -> dict[str, str]:
        """The values as the prompt shows them (a row as key=value pairs), less those with `show: false`."""
        configs = self.samplers.configs
        return {k: shown(v) for k, v in values.items() if k not in configs or configs[k].show}

    def describe(self) -> dict[str, Any]:
        out = self.samplers.targets()
        for name, values in self.samplers.lists.items():
            out[name]["planned"] = values
        for name, tree in self.trees.items():
            out[name]["tree"] = tree
        return out

    @staticmethod
    def carry_plan(described: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
        """A technique's description with the plan of the run's earlier manifest where this run wrote none
        (a finished run run again makes no call, so it plans nothing): same recipe, same plan."""
        now, then = described.get("variety"), before.get("variety")
        if not isinstance(now, dict) or not isinstance(then, dict):
            return described
        merged = {name: ({**then[name], **info} if "planned" not in info and isinstance(then.get(name), dict)
                         and then[name].get("kind") == info.get("kind") else info) for name, info in now.items()}
        return {**described, "variety": merged}

    # ------------------------------------------------------------------ personas

    async def _personas(self, name: str, cfg: PersonasSampler, ctx: GenContext) -> list[str]:
        system, user = load_prompt("variety_personas_system"), load_prompt("variety_personas_user")
        ask = user.render(about=cfg.about or self.task or "the records described by the schema")
        messages: list[dict[str, str]] = [{"role": "system", "content": system.render()}]
        for ex in cfg.examples:
            messages += [{"role": "user", "content": ask}, {"role": "assistant", "content": json.dumps({"persona": ex})}]
        messages.append({"role": "user", "content": ask})
        schema = {"type": "object", "properties": {"persona": {"type": "string", "minLength": 8, "maxLength": 160}},
                  "required": ["persona"], "additionalProperties": False}
        found: list[str] = []
        for round_ in range(3):  # more calls while the distinct ones fall short
            want = (cfg.count - len(found)) * 2 + 2
            reqs = [GenerationRequest(messages=tuple(messages), json_schema=schema, max_tokens=96, temperature=1.0,
                                      top_p=0.95, seed=_seed(ctx, name, round_, i), avoid=tuple(cfg.examples),
                                      purpose="plan") for i in range(want)]
            results = await ctx.llm.generate(reqs)
            texts = [r.parsed.get("persona", "") for r in results if isinstance(r.parsed, dict)]
            found += distinct(texts, [*cfg.examples, *found])
            if len(found) >= cfg.count:
                break
        return found[: cfg.count]

    # ------------------------------------------------------------------ topic trees

    async def _leaves(self, name: str, cfg: TopicTreeSampler, ctx: GenContext) -> list[str]:
        """Breadth x depth: each topic's subtopics are written one per call (2 x breadth calls, different
        seeds, in one batch per level; the bundled model repeats itself within one list), then the distinct
        ones kept: not near a sibling, nor the topic or one above it."""
        system, user = load_prompt("variety_topics_system"), load_prompt("variety_topics_user")
        root = cfg.root or self.task or "the records described by the schema"
        # a topic starts with a letter and holds no JSON punctuation (asked with no examples, the bundled
        # model otherwise writes `", "` and `"] }"`)
        schema = {"type": "object", "properties": {"subtopic": {
            "type": "string", "minLength": 3, "maxLength": 64, "pattern": "^[^\\W\\d_][^\\[\\]{}\"]*$"}},
            "required": ["subtopic"], "additionalProperties": False}

        def ask(path: list[str]) -> dict[str, str]:
            return {"role": "user", "content": user.render(path=PATH_SEP.join(path), topic=path[-1])}

        shots: list[dict[str, str]] = []
        for ex in cfg.examples:  # subtopics of the root, shown as earlier answers
            shots += [ask([root]), {"role": "assistant", "content": json.dumps({"subtopic": ex})}]
        tree: dict[str, Any] = {}
        level: list[tuple[list[str], dict[str, Any]]] = [([root], tree)]
        for _depth in range(cfg.depth):
            per = 2 * cfg.breadth
            reqs = [GenerationRequest(
                messages=({"role": "system", "content": system.render()}, *shots, ask(path)),
                json_schema=schema, max_tokens=48, temperature=1.0, top_p=0.95,
                seed=_seed(ctx, name, *path, i), avoid=(*path, *cfg.examples), purpose="plan")
                for path, _node in level for i in range(per)]
            results = await ctx.llm.generate(reqs)
            nxt = []
            for k, (path, node) in enumerate(level):
                subs = [r.parsed.get("subtopic", "") for r in results[k * per:(k + 1) * per] if isinstance(r.parsed, dict)]
                for sub in distinct(subs, [*path, *cfg.examples])[: cfg.breadth]:
                    node[sub] = {}
                    nxt.append(([*path, sub], node[sub]))
            if not nxt:
                break
            level = nxt
        self.trees[name] = {root: tree}
        leaves: list[str] = []

        def walk(path: list[str], node: dict[str, Any]) -> None:
            if not node:
                if len(path) > 1:  # a topic the model split into nothing stays a leaf; the root alone is none
                    leaves.append(PATH_SEP.join(path[1:]))
                return
            for key, sub in node.items():
                walk([*path, key], sub)

        walk([root], tree)
        return leaves
