"""Drawing a recipe's samplers (config/samplers.py): one value per sampler per slot, reproducible.

Every sampler draws from its own generator seeded by (run seed, slot, sampler name), so adding a
sampler leaves the others' values alone and a re-run draws the same values (and so replays the same
prompts from the call cache). A plain list (categories, personas, topic leaves, strata of rows)
is covered evenly: each block of len(values) slots takes every value once, as attribute axes are;
weighted categories likewise, each value repeated in proportion to its weight.

Faker draws people, companies, addresses...; scipy.stats draws numbers. Both are imported when a
recipe first uses them. Lists the model writes (personas, topic trees) are planned by the
technique (generators/variety.py) and handed in with `plan()` before the first draw.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import unicodedata
import uuid
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config.samplers import (CategorySampler, ConditionalSampler, DateSampler, ExpressionSampler, FakerSampler,
                               NumberSampler, PersonasSampler, PersonSampler, RowsSampler, SubcategorySampler,
                               TopicTreeSampler, UUIDSampler)
from ..errors import RecipeError, require
from .tables import plain as _plain, read_personas, read_table

PLANNED = (PersonasSampler, TopicTreeSampler)  # lists the model writes before the first record
_FAKERS: dict[str, Any] = {}


def balanced(seed: int, slot: int, axis: str, values: list[Any]) -> Any:
    """GenContext.balanced: each block of len(values) slots takes every value once, in a seeded order."""
    n = len(values)
    block, pos = divmod(slot, n)
    order = list(range(n))
    random.Random(f"{seed}:{axis}:{block}").shuffle(order)
    return values[order[pos]]


def repeated(weights: Mapping[str, float], block: int = 100) -> list[str]:
    """Weights as a list with each value repeated in proportion, so that `balanced` covers them evenly in
    blocks: {a: 2, b: 1, c: 1} -> [a, a, b, c] (exact for whole weights); other weights in a block of 100
    (largest remainders), so a small run is close to its target too, not only a large one."""
    items = [(k, w) for k, w in weights.items() if w > 0]
    if all(float(w).is_integer() for _k, w in items) and sum(w for _k, w in items) <= 10 * block:
        from math import gcd

        g = 0
        for _k, w in items:
            g = gcd(g, int(w))
        return [k for k, w in items for _ in range(int(w) // g)]
    total = sum(w for _k, w in items)
    exact = [(k, w * block / total) for k, w in items]
    counts = {k: int(x) for k, x in exact}
    for k, _x in sorted(exact, key=lambda kx: kx[1] - int(kx[1]), reverse=True)[: block - sum(counts.values())]:
        counts[k] += 1
    return [k for k, _w in items for _ in range(counts[k])]


def faker(locale: str, where: str) -> Any:
    if locale not in _FAKERS:
        Faker = require("faker", "samplers", "person and faker samplers").Faker
        try:
            _FAKERS[locale] = Faker(locale)
        except (AttributeError, ValueError) as exc:
            raise RecipeError(f"{where}.locale: Faker has no locale {locale!r}; use one like en_US, de_DE, "
                              "fr_FR, ja_JP, pt_BR") from exc
    return _FAKERS[locale]


def _jinja():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and (c.isalnum() or c in ".-"))


def person(fake: Any) -> dict[str, Any]:
    first, last = fake.first_name(), fake.last_name()
    user = _ascii(f"{first}.{last}".lower().replace(" ", "")) or _ascii(fake.user_name())
    return {"name": f"{first} {last}", "first_name": first, "last_name": last,
            "email": f"{user}@{fake.free_email_domain()}", "phone": fake.phone_number(),
            "address": " ".join(fake.address().split()), "city": fake.city(), "country": fake.current_country()}


def references(cfg: Any) -> set[str]:
    """The samplers a sampler reads (`of:`, names in its templates and conditions)."""
    from jinja2 import meta

    env = _jinja()
    if isinstance(cfg, SubcategorySampler):
        return {cfg.of}
    if isinstance(cfg, ExpressionSampler):
        return set(meta.find_undeclared_variables(env.parse(cfg.template)))
    if isinstance(cfg, ConditionalSampler):
        out: set[str] = set()
        for case in cfg.cases:
            out |= set(meta.find_undeclared_variables(env.parse("{{ " + case.when + " }}")))
            out |= references(case.then)
        return out | (references(cfg.otherwise) if cfg.otherwise is not None else set())
    return set()


def shown(value: Any) -> str:
    """A sampled value as the prompt shows it: a row as `key=value, ...`, several rows one after another."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(f"({shown(v)})" if isinstance(v, dict) else shown(v) for v in value)
    return str(value)


class Samplers:
    """A recipe's samplers, checked and ready to draw: `draw(seed, slot)` -> {name: value}."""

    def __init__(self, configs: Mapping[str, Any], base_dir: Path, origin: str = "generate.samplers") -> None:
        self.configs = dict(configs)
        self.origin = origin
        self.lists: dict[str, list[str]] = {}  # personas and topic leaves, once planned
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self._env = _jinja() if configs else None
        self._compiled: dict[str, Any] = {}
        seen: list[str] = []
        for name, cfg in self.configs.items():
            where = f"{origin}.{name}"
            for ref in sorted(references(cfg)):
                if ref not in seen:
                    hint = "it is declared below: move it above" if ref in self.configs else \
                        f"there is no such sampler (samplers above: {', '.join(seen) or 'none'})"
                    raise RecipeError(f"{where} reads {ref!r}, but {hint}")
            self._check(name, cfg, where, base_dir)
            seen.append(name)

    def _check(self, name: str, cfg: Any, where: str, base_dir: Path) -> None:
        if isinstance(cfg, NumberSampler):
            self._distribution(cfg, where)
            self._number(cfg, random.Random(0), where)  # bad parameters fail here, not mid-run
        elif isinstance(cfg, (PersonSampler, FakerSampler)):
            fake = faker(cfg.locale, where)
            if isinstance(cfg, FakerSampler):
                if cfg.provider.startswith("_") or not callable(getattr(fake, cfg.provider, None)):
                    raise RecipeError(f"{where}.provider: Faker has no provider {cfg.provider!r}; use one like "
                                      "name, company, address, email, phone_number, city, job, iban")
                try:
                    getattr(fake, cfg.provider)(**cfg.args)
                except (TypeError, ValueError, AttributeError) as exc:
                    raise RecipeError(f"{where}.args: {cfg.provider}({cfg.args}) fails: {exc}") from exc
        elif isinstance(cfg, RowsSampler):
            rows = self.tables[name] = read_table(base_dir / cfg.path, where)
            if cfg.stratify and cfg.stratify not in rows[0]:
                raise RecipeError(f"{where}.stratify: {Path(cfg.path).name} has no column {cfg.stratify!r} "
                                  f"(it has {', '.join(rows[0])})")
        elif isinstance(cfg, PersonasSampler) and cfg.path:
            self.lists[name] = read_personas(cfg, base_dir, where)
        elif isinstance(cfg, ConditionalSampler):
            for i, case in enumerate(cfg.cases):
                self._check(name, case.then, f"{where}.cases[{i}].then", base_dir)
            if cfg.otherwise is not None:
                self._check(name, cfg.otherwise, f"{where}.otherwise", base_dir)

    def to_plan(self) -> dict[str, Any]:
        """The samplers whose values the model writes first, not yet planned: {name: config}."""
        return {n: c for n, c in self.configs.items() if isinstance(c, PLANNED) and n not in self.lists}

    def plan(self, name: str, values: list[str]) -> None:
        if not values:
            raise RecipeError(f"{self.origin}.{name}: the model wrote no usable values; give them in a file "
                              "(`path:`) or add `examples:`")
        self.lists[name] = list(values)

    # ------------------------------------------------------------------ drawing

    def draw(self, seed: int, slot: int) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, cfg in self.configs.items():
            rng = random.Random(f"{seed}:{slot}:sampler:{name}")
            values[name] = self._draw(name, cfg, rng, seed, slot, values)
        return values

    def _draw(self, name: str, cfg: Any, rng: random.Random, seed: int, slot: int, values: dict[str, Any]) -> Any:
        where = f"{self.origin}.{name}"
        if isinstance(cfg, CategorySampler):
            return self._category(cfg.values, rng, seed, slot, name)
        if isinstance(cfg, SubcategorySampler):
            parent = values.get(cfg.of)
            key = parent if isinstance(parent, str) else json.dumps(parent)
            if key not in cfg.values:
                raise RecipeError(f"{where}.values has no list for {cfg.of} = {key!r}; add one")
            return self._category(cfg.values[key], rng, seed, slot, f"{name}:{key}", slot_in=slot)
        if isinstance(cfg, NumberSampler):
            return self._number(cfg, rng, where)
        if isinstance(cfg, DateSampler):
            return self._date(cfg, rng)
        if isinstance(cfg, UUIDSampler):
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if isinstance(cfg, PersonSampler):
            fake = faker(cfg.locale, where)
            fake.seed_instance(rng.getrandbits(64))
            return person(fake)
        if isinstance(cfg, FakerSampler):
            fake = faker(cfg.locale, where)
            fake.seed_instance(rng.getrandbits(64))
            value = _plain(getattr(fake, cfg.provider)(**cfg.args))
            return " ".join(value.split()) if isinstance(value, str) else value
        if isinstance(cfg, ExpressionSampler):
            return self._expression(name, cfg, values, where)
        if isinstance(cfg, RowsSampler):
            return self._rows(name, cfg, rng, seed, slot)
        if isinstance(cfg, PLANNED):
            if name not in self.lists:
                raise RecipeError(f"{where}: drawn before it was planned (a technique must call plan() first)")
            return balanced(seed, slot, name, self.lists[name])
        if isinstance(cfg, ConditionalSampler):
            for i, case in enumerate(cfg.cases):
                if self._when(f"{name}:{i}", case.when, values, where):
                    return self._draw(name, case.then, rng, seed, slot, values)
            if cfg.otherwise is None:
                return None
            return self._draw(name, cfg.otherwise, rng, seed, slot, values)
        raise RecipeError(f"{where}: unknown sampler {type(cfg).__name__}")  # pragma: no cover

    @staticmethod
    def _category(values: list[Any] | dict[str, float], rng: random.Random, seed: int, slot: int, axis: str,
                  slot_in: int | None = None) -> Any:
        if slot_in is not None:  # a subcategory: its parent's blocks do not line up with its own
            if isinstance(values, dict):
                return rng.choices(list(values), weights=list(values.values()))[0]
            return rng.choice(values)
        if isinstance(values, dict):
            values = repeated(values)
        return balanced(seed, slot, axis, values)

    @staticmethod
    def _distribution(cfg: NumberSampler, where: str) -> Any:
        stats = require("scipy.stats", "samplers", "number samplers")
        dist = getattr(stats, cfg.distribution, None)
        if not isinstance(dist, (stats.rv_continuous, stats.rv_discrete)):
            raise RecipeError(f"{where}.distribution: scipy.stats has no distribution {cfg.distribution!r}; "
                              "use one like uniform, norm, lognorm, expon, poisson, binom, beta, gamma")
        return dist

    def _number(self, cfg: NumberSampler, rng: random.Random, where: str) -> int | float:
        import numpy as np

        dist = self._distribution(cfg, where)
        gen = np.random.default_rng(rng.getrandbits(64))
        try:
            value = None
            for _ in range(20):  # outside [min, max]: drawn again, then clipped
                value = float(dist.rvs(**cfg.params, random_state=gen))
                if (cfg.min is None or value >= cfg.min) and (cfg.max is None or value <= cfg.max):
                    break
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{where}.params: {cfg.distribution}({cfg.params}) cannot be drawn from: {exc}") from exc
        if value is None or value != value:
            raise RecipeError(f"{where}.params: {cfg.distribution}({cfg.params}) gives no number; check the parameters")
        value = min(max(value, cfg.min if cfg.min is not None else value), cfg.max if cfg.max is not None else value)
        discrete = hasattr(dist, "pmf")
        if cfg.round == 0 or (cfg.round is None and discrete):
            return int(round(value))
        return round(value, cfg.round) if cfg.round is not None else value

    @staticmethod
    def _date(cfg: DateSampler, rng: random.Random) -> str:
        def as_dt(d: dt.date) -> dt.datetime:
            return d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)

        start, end = as_dt(cfg.start), as_dt(cfg.end)
        if cfg.kind == "date":
            day = start.date() + dt.timedelta(days=rng.randint(0, (end.date() - start.date()).days))
            return day.strftime(cfg.format) if cfg.format else day.isoformat()
        moment = start + dt.timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))
        return moment.strftime(cfg.format) if cfg.format else moment.isoformat()

    def _expression(self, name: str, cfg: ExpressionSampler, values: dict[str, Any], where: str) -> Any:
        assert self._env is not None
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self._env.from_string(cfg.template)
        try:
            text = template.render(**values)
        except Exception as exc:  # jinja2's errors (undefined names, bad filters) carry no common base
            raise RecipeError(f"{where}.template: {exc}; fix the template") from exc
        try:
            if cfg.type == "int":
                return int(float(text))
            if cfg.type == "float":
                return float(text)
        except ValueError as exc:
            raise RecipeError(f"{where}: {text!r} is not a number (type: {cfg.type})") from exc
        if cfg.type == "bool":
            return text.strip().lower() in ("true", "1", "yes")
        return text

    def _when(self, key: str, expression: str, values: dict[str, Any], where: str) -> bool:
        assert self._env is not None
        test = self._compiled.get(key)
        if test is None:
            try:
                test = self._compiled[key] = self._env.compile_expression(expression)
            except Exception as exc:
                raise RecipeError(f"{where}: `when: {expression}` is not an expression ({exc})") from exc
        try:
            return bool(test(**values))
        except Exception as exc:
            raise RecipeError(f"{where}: `when: {expression}` fails ({exc}); fix the condition") from exc

    def _rows(self, name: str, cfg: RowsSampler, rng: random.Random, seed: int, slot: int) -> Any:
        table = self.tables[name]
        pool, turn, stratum = list(range(len(table))), slot, ""
        if cfg.stratify:
            strata = self.strata(name)
            stratum = balanced(seed, slot, f"{name}:stratum", list(strata))
            pool, turn = strata[stratum], slot // len(strata)
        if cfg.replace:
            picked = rng.sample(pool, min(cfg.rows, len(pool)))
        else:  # every row of the pool once, in a seeded order, before any row again
            picked: list[int] = []
            for pos in range(turn * cfg.rows, turn * cfg.rows + cfg.rows):
                epoch, i = divmod(pos, len(pool))
                order = list(pool)
                random.Random(f"{seed}:{name}:{stratum}:{epoch}").shuffle(order)
                if order[i] not in picked:  # a pool smaller than `rows`: each row once in a record
                    picked.append(order[i])
        rows = [table[i] for i in picked]
        return rows[0] if cfg.rows == 1 else rows

    def strata(self, name: str) -> dict[str, list[int]]:
        cfg, table = self.configs[name], self.tables[name]
        out: dict[str, list[int]] = {}
        for i, row in enumerate(table):
            out.setdefault(str(row.get(cfg.stratify)), []).append(i)
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ what the report compares against

    def targets(self) -> dict[str, Any]:
        """Per sampler, what it aims at: {kind, target: {value: share}} for a discrete sampler, {kind,
        quantiles: {...}} for a number; the report puts the accepted records' distribution beside it."""
        out: dict[str, Any] = {}
        for name, cfg in self.configs.items():
            info: dict[str, Any] = {"kind": cfg.kind}
            target = self._target(name, cfg, out)
            if target is not None:
                info["target"] = target
            if isinstance(cfg, NumberSampler):
                info["quantiles"] = self._quantiles(cfg)
            if isinstance(cfg, RowsSampler):
                info["rows"] = len(self.tables[name])
                if cfg.stratify:
                    info["stratify"] = cfg.stratify
            if isinstance(cfg, PLANNED) and name in self.lists:
                info["values"] = len(self.lists[name])
            out[name] = info
        return out

    def _target(self, name: str, cfg: Any, done: dict[str, Any]) -> dict[str, float] | None:
        def shares(values: Iterable[Any] | dict[str, float]) -> dict[str, float]:
            if isinstance(values, dict):
                total = sum(values.values())
                return {str(k): w / total for k, w in values.items()}
            values = list(values)
            out: dict[str, float] = {}
            for v in values:
                key = v if isinstance(v, str) else json.dumps(v)
                out[key] = out.get(key, 0.0) + 1 / len(values)
            return out

        if isinstance(cfg, CategorySampler):
            return {k: round(v, 4) for k, v in shares(cfg.values).items()}
        if isinstance(cfg, SubcategorySampler):
            parent = (done.get(cfg.of) or {}).get("target")
            if not parent:
                return None
            out: dict[str, float] = {}
            for pv, ps in parent.items():
                for sv, ss in shares(cfg.values.get(pv) or {}).items():
                    out[sv] = out.get(sv, 0.0) + ps * ss
            return {k: round(v, 4) for k, v in out.items()}
        if isinstance(cfg, PLANNED) and name in self.lists:
            return {k: round(v, 4) for k, v in shares(self.lists[name]).items()}
        if isinstance(cfg, RowsSampler) and cfg.stratify:
            return {k: round(v, 4) for k, v in shares(list(self.strata(name))).items()}
        return None

    def _quantiles(self, cfg: NumberSampler) -> dict[str, float]:
        dist = self._distribution(cfg, "")
        frozen = dist(**cfg.params)
        out = {f"p{int(q * 100)}": float(frozen.ppf(q)) for q in (0.1, 0.5, 0.9)}
        out["mean"] = float(frozen.mean())
        return {k: round(v, 4) for k, v in out.items()}
