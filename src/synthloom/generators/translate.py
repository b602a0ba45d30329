"""Multilingual copies of a dataset: `technique: translate`.

Input: a JSONL file or a run directory (its accepted records). Slot k < records x languages
translates source record i into language l, (i, l) = divmod(k, languages): the first pass covers
every pair once. Later slots go, in turn, to the pairs not yet translated (a new seed, hotter
sampling as the attempts grow), so the budget is spent on the pairs that failed.

Only the declared `fields` are translated (a string, or a list of strings); every other
field (labels, ids) is copied. Each translated field must pass, in order: language ID
(py3langid; drift back to the source language is its own reason), protected spans
(placeholders, URLs, emails, code, listed terms, named entities and, unless localizing,
numbers), the length-ratio bounds and, when asked, back-translation similarity. A failure
rejects the record with the field and reason (quality/translation.py lists the reasons).

Lineage: `source_id` (the `id_field` value, or the source record's content id), `language`,
`source_language`, the template and its hash, the seeds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config.redteam import TranslateTechnique
from ..errors import InputFileError, RecipeError
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.language_id import LANGUAGE_NAMES
from ..quality.translation import clip, cosine, language_problem, length_problem, missing_span
from ..records import Problem, Record, Rejection, content_hash
from ..userfiles import jsonl_values
from .base import GenContext, Generator

# one worked example per language: shows a base model the task, and that {order_id} and 3 stay as they are
SHOT_SOURCE = "Your order {order_id} has shipped and will arrive in 3 days."
SHOTS = {
    "de": "Ihre Bestellung {order_id} wurde versandt und kommt in 3 Tagen an.",
    "fr": "Votre commande {order_id} a été expédiée et arrivera dans 3 jours.",
    "es": "Su pedido {order_id} ha sido enviado y llegará en 3 días.",
    "it": "Il tuo ordine {order_id} è stato spedito e arriverà tra 3 giorni.",
    "pt": "O seu pedido {order_id} foi enviado e chegará em 3 dias.",
    "nl": "Je bestelling {order_id} is verzonden en komt over 3 dagen aan.",
    "en": "Your order {order_id} has shipped and will arrive in 3 days.",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def read_source(path_text: str, base_dir: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file, or the accepted records of a run directory."""
    path = Path(path_text)
    path = path if path.is_absolute() else base_dir / path
    if path.is_dir():
        from ..runs import open_store

        with open_store(path, "a run directory or a JSONL file") as s:
            return [r.data for r in s.iter_accepted()]
    if not path.is_file():
        raise InputFileError(f"{path}: input not found; give a JSONL file or a run directory")
    rows = []
    for n, row in jsonl_values(path):
        if not isinstance(row, dict):
            raise InputFileError(f"{path}:{n}: a JSON {type(row).__name__}, not an object; one object per line")
        rows.append(row)
    return rows


def first_block(text: str, source: str) -> str:
    """The translation without what a base model appends after it (a blank line the source lacks)."""
    text = text.strip()
    if "\n\n" not in source and "\n\n" in text:
        text = text.split("\n\n", 1)[0].strip()
    if "\n" not in source and "\n" in text:
        text = text.split("\n", 1)[0].strip()
    return text


class Translator:
    """One text into one language through the model, and the checks on the result."""

    def __init__(self, source_language: str = "en", *, localize: bool = False, keep: tuple[str, ...] = (),
                 entities: bool = True, max_tokens: int = 300, temperature: float = 0.2, top_p: float = 0.95,
                 min_confidence: float = 0.5, length_ratio: tuple[float, float] = (0.5, 2.2)) -> None:
        self.source = source_language
        self.localize, self.keep, self.entities = localize, tuple(keep), entities
        self.sampling = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p}
        self.min_confidence, self.length_ratio = min_confidence, length_ratio
        self.system = load_prompt("translate_system")
        self.user = load_prompt("translate_user")

    def request(self, text: str, target: str, seed: int, source: str | None = None,
                temperature: float | None = None) -> GenerationRequest:
        src = source or self.source
        system = self.system.render(source_name=language_name(src), target_name=language_name(target),
                                    keep=list(self.keep), localize=self.localize)
        messages: list[dict[str, str]] = [{"role": "system", "content": system}]
        if target in SHOTS and src in SHOTS:
            messages += [{"role": "user", "content": SHOTS[src] if src != "en" else SHOT_SOURCE},
                         {"role": "assistant", "content": SHOTS[target]}]
        messages.append({"role": "user", "content": self.user.render(text=text)})
        sampling = dict(self.sampling, **({"temperature": temperature} if temperature is not None else {}))
        return GenerationRequest(messages=tuple(messages), seed=seed, purpose="translate", **sampling)

    def problem(self, source_text: str, translated: str, target: str) -> Problem | None:
        return (language_problem(translated, target, self.source, self.min_confidence)
                or missing_span(source_text, translated, numbers=not self.localize,
                                entities=self.entities and not self.localize, keep=self.keep)
                or length_problem(source_text, translated, self.length_ratio))

    async def translate(self, llm: Any, text: str, target: str, seed: int,
                        attempt: int = 0) -> tuple[str | None, Problem | None]:
        """(translation, None) or (what the model wrote, (reason, detail)). A retry (attempt > 0) samples
        hotter: at a low temperature a new seed mostly repeats the failed translation."""
        temperature = None if attempt == 0 else min(1.0, self.sampling["temperature"] + 0.3 * attempt)
        (res,) = await llm.generate([self.request(text, target, seed, temperature=temperature)])
        if not res.ok:
            return None, Problem("backend_error", str(res.error)[:300])
        out = first_block(res.text, text)
        if res.finish_reason == "length":
            return out, Problem("truncated", f"cut off by max_tokens after {res.completion_tokens} tokens")
        if not out:
            return out, Problem("empty", "the model wrote nothing")
        if target in SHOTS and out == SHOTS[target] and text.strip() != SHOT_SOURCE:
            return out, Problem("copied_example", "the model repeated the worked example instead of translating")
        return out, self.problem(text, out, target)


class TranslateGenerator(Generator):
    technique = "translate"

    def __init__(self, config: TranslateTechnique, base_dir: Path) -> None:
        self.config = config
        self.rows = read_source(config.input, base_dir)
        if not self.rows:
            raise InputFileError(f"generate.input: {config.input} holds no records")
        for f in config.fields:
            if not any(isinstance(r.get(f), (str, list)) for r in self.rows):
                raise RecipeError(f"generate.fields: no record of {config.input} has a text field {f!r} "
                                  f"(fields seen: {', '.join(sorted(self.rows[0]))})")
        s = config.sampling
        self.translator = Translator(config.source_language, localize=config.localize, keep=tuple(config.keep),
                                     max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p,
                                     min_confidence=config.min_confidence, length_ratio=tuple(config.length_ratio))
        self._embedder = None

    @property
    def pairs(self) -> int:
        return len(self.rows) * len(self.config.languages)

    def source_id(self, row: dict[str, Any]) -> str:
        key = self.config.id_field
        return str(row[key]) if key and key in row else content_hash(row, 8)

    def describe(self) -> dict[str, Any]:
        t = self.translator
        return {"technique": self.technique, "templates": {p.name: p.hash for p in (t.system, t.user)},
                "languages": self.config.languages, "fields": self.config.fields, "records": len(self.rows),
                "source_language": self.config.source_language, "localize": self.config.localize,
                "back_translation": self.config.back_translation}

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        cfg = self.config
        picked = self.pair_for(slot, ctx)
        if picked is None:
            return [Rejection(stage="surplus", reason="already_translated", meta={"technique": self.technique})]
        i, li, attempt = picked
        row, lang = self.rows[i], cfg.languages[li]
        sid = self.source_id(row)
        meta: dict[str, Any] = {"technique": self.technique, "template": "translate_system",
                                "template_hash": self.translator.system.hash, "source_id": sid, "source_index": i,
                                "language": lang, "source_language": cfg.source_language, "attempt": attempt}
        if self._done(ctx, i, lang):
            return [Rejection(stage="surplus", reason="already_translated", meta=meta)]
        out = dict(row)
        for k, field in enumerate(cfg.fields):
            value = row.get(field)
            texts = [value] if isinstance(value, str) else value if isinstance(value, list) else None
            if texts is None or not all(isinstance(t, str) for t in texts):
                continue  # nothing to translate in this record's field
            done = []
            for j, text in enumerate(texts):
                seed = ctx.request_seed(slot, k * 100 + j)
                translated, problem = await self.translator.translate(ctx.llm, text, lang, seed, attempt)
                if problem is None and cfg.back_translation:
                    problem, sim = await self._back_check(ctx, text, translated, lang, slot, k * 100 + j)
                    meta.setdefault("back_similarity", {})[field if len(texts) == 1 else f"{field}[{j}]"] = sim
                if problem is not None:
                    return [Rejection(stage="validate", reason=problem[0], detail=f"{field}: {problem[1]}",
                                      data={field: translated}, raw=translated, meta=meta)]
                done.append(translated)
            out[field] = done[0] if isinstance(value, str) else done
        out["language"] = lang
        if self._done(ctx, i, lang):  # another slot translated the same pair meanwhile (concurrent requests)
            return [Rejection(stage="surplus", reason="already_translated", meta=meta)]
        return [Record(data=out, meta=meta)]

    def _done(self, ctx: GenContext, i: int, lang: str) -> bool:
        return any(r.meta.get("source_index") == i and r.meta.get("language") == lang for r in ctx.accepted)

    def pair_for(self, slot: int, ctx: GenContext) -> tuple[int, int, int] | None:
        """(source index, language index, attempt) for a slot, or None when every pair is translated.

        The first pass covers every pair once, in order. After it, a slot goes to the pairs still
        missing at that moment, in turn, so a hard pair gets the retries the budget holds instead of
        one try per pass over pairs that are done."""
        langs = len(self.config.languages)
        if slot < self.pairs:
            i, li = divmod(slot, langs)
            return i, li, 0
        pending = [(i, li) for i in range(len(self.rows)) for li in range(langs)
                   if not self._done(ctx, i, self.config.languages[li])]
        if not pending:
            return None
        k = slot - self.pairs
        i, li = pending[k % len(pending)]
        return i, li, 1 + k // len(pending)

    async def _back_check(self, ctx: GenContext, source: str, translated: str, lang: str, slot: int,
                          k: int) -> tuple[Problem | None, float]:
        req = self.translator.request(translated, self.config.source_language, ctx.request_seed(slot, 10_000 + k),
                                      source=lang)
        (res,) = await ctx.llm.generate([req])
        back = first_block(res.text, translated) if res.ok else ""
        if self._embedder is None:
            from ..quality.embeddings import make_embedder

            self._embedder = make_embedder()
        sim = round(cosine(source, back, self._embedder), 4)
        if sim < self.config.min_similarity:
            return Problem("back_translation", f"back-translation cosine {sim:.2f} < {self.config.min_similarity:g}: "
                                               f"{clip(back)!r}"), sim
        return None, sim


def build(config: TranslateTechnique, base_dir: Path) -> TranslateGenerator:
    return TranslateGenerator(config, base_dir)
