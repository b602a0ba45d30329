"""RAG evaluation sets: question / reference answer / evidence / source chunk ids, of three kinds.

    factual       one chunk; the evidence is one of its sentences, chosen by the slot's plan
    multi_hop     two related chunks (shared rare terms); one evidence sentence from each, chosen by the plan
    unanswerable  a plausible question on a chunk's topic that the knowledge base does not answer

Kinds follow the recipe's shares through a fixed, smooth schedule over slots (so a
re-run makes the same requests). Who asks and how (`personas`, `phrasings`) is
sampled per question. A slot's plan picks its evidence: a factual slot cycles over the chunk's
sentences that can carry a question (so successive questions on one chunk ask about different
sentences; a sentence an accepted pair already cites is passed over while the chunk has others), a
multi-hop slot over the chunk pair's sentence pairs, best linked first. The request names the
evidence, the model picks the answer, a span of the evidence (a JSON schema `enum`, so it is verbatim by
construction on a constraining backend and checked again here; a span an accepted pair with this evidence
gave is not offered, so one sentence gives one pair per span, and a slot whose evidence has none left is
`dedup:evidence_used_up` without a call), then writes the question, which the
schema's `pattern` makes name one of the evidence's key terms (`qa_options.question_pattern`). On a base
model a factual slot takes the document form instead (`prompt_form`, `qa_document.py`): the model continues a
reading-check sheet with the question, then picks the answer among the same spans. Then:
a question must not copy a worked example (a draw that did is drawn again without it); the answer
must share content with its evidence, and a "What is X?" answer must say what X is
(`answer_does_not_define`); the model judges (constrained yes/no) that the evidence
supports the answer, or for unanswerable questions that none of the best-matching chunks answers
it (a document-form factual pair, a span of its evidence by construction, is not sent to a base-model
judge: docs/benchmarks_junk.md measured it rejecting good and bad pairs alike); a question too close to an accepted one, or a pair with an accepted pair's evidence and answer
(`dedup:same_evidence`), is dropped. A count above the distinct (evidence, answer) pairs the knowledge
base can give is said before the first call (`capacity`, `notes` in the manifest and the report).

Rows: `question`, `answer`, `evidence` (verbatim quotes), `source_ids`, `kind`; the
cited chunk texts stay in lineage (`meta.contexts`) and `export.rag.rag_eval_row` turns a
record into the form RAG evaluators read (question, ground_truth/reference, contexts).
"""
from __future__ import annotations

import json
import logging
import random
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config.documents import QATechnique
from ..llm.jsontext import object_schema
from ..llm.render import resolve_form, style_of
from ..llm.types import GenerationRequest
from ..prompts import load as load_prompt
from ..quality.grounding import grounding_problem
from ..quality.support import answerable_messages, load_qa_examples, support_messages, verdict_of, verdict_request
from ..quality.text import fold, loose
from ..records import Problem, Record, Rejection
from ..sources import Chunk, Corpus
from ..sources.related import TermIndex, sentences, terms
from ..sources.templates import quote
from ._grounded import corpus_for, parse_object, sampled
from .base import GenContext, Generator
from .qa_document import (DOCUMENT_TEMPERATURE, QUESTION_MAX_TOKENS, answer_prompt, document_examples,
                          question_prompt, sheet_hash)
from .qa_answer_support import (answer_support_problem, answerable_problem, kb_vocabulary, key_terms,
                                question_meets_evidence, undefined_term_problem)
from .qa_options import (KINDS, YES_NO_ANSWER, answer_spans, answers_taken, askable_sentences, asks_yes_no,
                         borrowed_names, borrowed_terms, capacity_notes, distinctive_terms, factual_capacity, jaccard,
                         kind_schedule, multi_hop_answers, next_uncited, open_answers, question_pattern,
                         same_evidence, sentence_pairs, shingles, yes_no_pattern, yes_no_question)

log = logging.getLogger(__name__)
QA_TRIES = 3  # draws per slot: a question that fails a check is drawn again with another seed


class RagQAGenerator(Generator):
    technique = "qa"

    def __init__(self, config: QATechnique, base_dir: Path, corpus: Corpus | None = None) -> None:
        self.config = config
        self.corpus = corpus if corpus is not None else corpus_for(config, base_dir)
        self.index = TermIndex(self.corpus.chunks)
        self.sources = [i for i, c in enumerate(self.corpus.chunks)
                        if len(c.text) >= config.min_chunk_chars and sentences(c.text)] or \
                       [i for i, c in enumerate(self.corpus.chunks) if sentences(c.text, min_chars=10)]
        if not self.sources:
            from ..errors import InputFileError

            raise InputFileError("generate.docs: no chunk has a full sentence to ask about; add longer documents")
        self.pairs = [(a, b) for a, b, _, _ in self.index.related_pairs(limit=5000)]
        shares = dict(config.kinds)
        if shares.get("multi_hop", 0) > 0 and not self.pairs:
            import logging

            logging.getLogger(__name__).warning("qa: no related chunk pairs in the knowledge base; "
                                                "multi_hop questions are skipped")
            shares.pop("multi_hop")
            if not any(v > 0 for v in shares.values()):
                shares = {"factual": 1.0}
        self.shares = shares
        self.schedule = kind_schedule(shares)
        self._before: list[int] = []
        seen: dict[str, int] = {}
        for k in self.schedule:
            self._before.append(seen.get(k, 0))
            seen[k] = seen.get(k, 0) + 1
        self._per_period = seen
        self._orders: dict[int, list[int]] = {}
        self.examples = load_qa_examples()
        self.prompts = {n: load_prompt(f"qa_{n}") for n in (
            "factual_system", "factual_user", "multihop_system", "multihop_user", "unanswerable_system",
            "unanswerable_user")}
        self._shingles: dict[str, frozenset[str]] = {}
        self._kb_terms = kb_vocabulary(c.text for c in self.corpus.chunks)
        self._example_questions = {loose(ex["output"]["question"]) for k in KINDS for ex in self.examples.get(k, [])
                                   if isinstance(ex.get("output"), dict) and ex["output"].get("question")}
        self._example_terms = {t for q in self._example_questions for t in key_terms(q)}
        self._example_names = distinctive_terms([text for k in KINDS for ex in self.examples.get(k, [])
                                                 for text in _texts(ex)])
        # the document form's worked entries, and what a question copied from them would share
        self.sheet = document_examples(self.examples)
        sheet_questions = {loose(e["question"]) for e in self.sheet}
        self._copy_sets = {
            "chat": (self._example_questions, self._example_terms, self._example_names),
            "document": (sheet_questions, {t for q in sheet_questions for t in key_terms(q)},
                         distinctive_terms([t for e in self.sheet for t in e.values()])),
        }
        self.pair_fit = True  # the `relevant` check's PMI of a question with its answer (quality/pair_fit.py)
        self._accepted: Sequence[Record] = ()  # the engine's live list of accepted records (for the coverage)
        self._capacity: dict[str, int] | None = None  # distinct (evidence, answer) pairs per kind, once a run asks
        self.notes: list[str] = []

    def use_checks(self, on: Sequence[str]) -> None:
        """The recipe's acceptance checks: `relevant` adds the PMI of a question with its answer."""
        self.pair_fit = "relevant" in on

    def gates(self) -> list:
        """`relevant:answer_unlikely`: a question its answer makes no likelier (quality/pair_fit.py)."""
        if not self.pair_fit:
            return []
        from ..quality.pair_fit import PairFitGate

        return [PairFitGate()]

    @property
    def skipped(self) -> list:
        return self.corpus.skipped

    def describe(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "templates": {p.name: p.hash for p in self.prompts.values()},
            "documents": len(self.corpus.documents),
            "chunks": len(self.corpus.chunks),
            "question_sources": len(self.sources),
            "related_pairs": len(self.pairs),
            "kinds": self.shares,
            "skipped": [str(s) for s in self.corpus.skipped],
            "judge": self.config.judge,
            "evidence_coverage": self.evidence_coverage(),
            **({"capacity": self._capacity} if self._capacity is not None else {}),
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    def evidence_coverage(self) -> dict[str, Any]:
        """How much of the knowledge base the accepted pairs cite: distinct evidence sentences over the
        sentences of the question source chunks that can carry a question."""
        askable = {fold(s) for i in self.sources for s in self._askable(self.corpus.chunks[i])}
        used = {fold(e) for r in self._accepted if isinstance(r.data, dict) for e in r.data.get("evidence") or []}
        n = len(askable)
        return {"sentences": n, "cited": len(used & askable), "share": round(len(used & askable) / n, 3) if n else None}

    def capacity(self) -> dict[str, int]:
        """How many distinct pairs (evidence, answer) each kind with evidence can give at most: factual from
        the askable sentences of the question source chunks, multi-hop from the related chunk pairs (counted
        up to 100,000)."""
        out = {}
        if self.shares.get("factual", 0) > 0:
            out["factual"] = factual_capacity([s for i in self.sources for s in self._askable(self.corpus.chunks[i])])
        if self.shares.get("multi_hop", 0) > 0:
            seen: set[tuple[str, ...]] = set()
            for a, b in self.pairs:
                for e1, e2 in sentence_pairs(self._askable(self.corpus.chunks[a]), self._askable(self.corpus.chunks[b])):
                    seen.update((fold(e1), fold(e2), fold(x)) for x in multi_hop_answers([e1], [e2]))
                if len(seen) > 100_000:
                    break
            out["multi_hop"] = len(seen)
        return out

    def _warn_capacity(self, target: int | None) -> None:
        """Once, before the first call: when the count asks for more pairs of a kind than the knowledge base
        can give, say so (the log, the manifest's `generator.notes`) rather than spend the budget on repeats."""
        if self._capacity is not None or not target:
            return
        self._capacity = self.capacity()
        for note in capacity_notes(target, self.schedule, self._capacity):
            self.notes.append(note)
            log.warning("%s", note)

    # ------------------------------------------------------------ prompts

    def _messages(self, kind: str, user_vars: dict[str, Any], leave_out: frozenset[str] = frozenset()
                  ) -> list[dict[str, str]]:
        """System prompt, the worked examples (but those whose question is in ``leave_out``), the request."""
        name = {"factual": "factual", "multi_hop": "multihop", "unanswerable": "unanswerable"}[kind]
        msgs = [{"role": "system", "content": self.prompts[f"{name}_system"].render()}]
        for ex in self.examples.get(kind, []):
            output = dict(ex["output"])
            if loose(output.get("question", "")) in leave_out:
                continue
            if kind != "unanswerable" and "answer" in output:  # the answer first, as the schema asks
                output = {"answer": output.pop("answer"), **output}
            # the request names the sentences to ask about; the reply does not repeat them
            if kind == "factual":
                ex = {**ex, "evidence": output.pop("evidence", "")}
            elif kind == "multi_hop":
                ex = {**ex, "evidence": [output.pop("evidence_1", ""), output.pop("evidence_2", "")]}
            msgs.append({"role": "user", "content": self._user(kind, ex)})
            msgs.append({"role": "assistant", "content": json.dumps(output, ensure_ascii=False)})
        msgs.append({"role": "user", "content": self._user(kind, user_vars)})
        return msgs

    def _user(self, kind: str, v: Mapping[str, Any]) -> str:
        if kind == "multi_hop":
            return self.prompts["multihop_user"].render(
                passage_1=quote(v["passage_1"], "passage"), passage_2=quote(v["passage_2"], "passage"),
                evidence_1=" ".join(v["evidence"][0].split()), evidence_2=" ".join(v["evidence"][1].split()),
                persona=v["persona"], phrasing=v["phrasing"])
        if kind == "factual":
            return self.prompts["factual_user"].render(passage=quote(v["passage"], "passage"), persona=v["persona"],
                                                       phrasing=v["phrasing"], evidence=" ".join(v["evidence"].split()))
        return self.prompts["unanswerable_user"].render(passage=quote(v["passage"], "passage"), persona=v["persona"],
                                                        phrasing=v["phrasing"])

    def _sentence_options(self, chunk: Chunk) -> list[str]:
        return sentences(chunk.text, limit=self.config.max_evidence_sentences) or \
            sentences(chunk.text, min_chars=10, limit=self.config.max_evidence_sentences)

    def _askable(self, chunk: Chunk) -> list[str]:
        return askable_sentences(self._sentence_options(chunk))

    # ------------------------------------------------------------ one slot

    def plan(self, slot: int, ctx: GenContext) -> dict[str, Any]:
        """What slot `slot` asks for: kind, chunks, persona, phrasing (deterministic in slot and seed)."""
        kind, ordinal = self.kind_of(slot)
        rng = ctx.rng(slot, "qa")
        plan: dict[str, Any] = {"kind": kind, "persona": rng.choice(self.config.personas),
                                "phrasing": rng.choice(self.config.phrasings)}
        if kind == "multi_hop":
            a, b = self.pairs[ordinal % len(self.pairs)]
            plan["chunks"] = [self.corpus.chunks[a], self.corpus.chunks[b]]
            # the n-th visit to a chunk pair combines its n-th best-linked pair of sentences
            hops = sentence_pairs(self._askable(plan["chunks"][0]), self._askable(plan["chunks"][1]))
            plan["evidence"] = list(hops[(ordinal // len(self.pairs)) % len(hops)])
        else:
            order = self._order(ctx.seed)
            shift = len(order) // 2 if kind == "unanswerable" else 0  # not the chunks factual questions start on
            plan["chunks"] = [self.corpus.chunks[order[(ordinal + shift) % len(order)]]]
            if kind == "factual":
                # the n-th visit to a chunk asks about the n-th of its sentences after a seeded start
                chunk = plan["chunks"][0]
                options = self._askable(chunk)
                start = random.Random(f"qa-evidence:{ctx.seed}:{chunk.id}").randrange(len(options))
                plan["evidence"] = options[(start + ordinal // len(order)) % len(options)]
        return plan

    def kind_of(self, slot: int) -> tuple[str, int]:
        """The kind of question slot `slot` asks, and how many slots of that kind came before it."""
        period = len(self.schedule)
        cycles, pos = divmod(slot, period)
        kind = self.schedule[pos]
        return kind, cycles * self._per_period[kind] + self._before[pos]

    def _order(self, seed: int) -> list[int]:
        """Question source chunks in a seeded order, so successive questions visit different chunks."""
        if seed not in self._orders:
            order = list(self.sources)
            random.Random(f"qa-order:{seed}").shuffle(order)
            self._orders[seed] = order
        return self._orders[seed]

    async def produce(self, slot: int, ctx: GenContext) -> list[Record | Rejection]:
        self._accepted = ctx.accepted
        plan = self.plan(slot, ctx)
        kind, chunks = plan["kind"], plan["chunks"]
        if kind == "factual":
            plan["evidence"] = next_uncited(plan["evidence"], self._askable(chunks[0]), ctx.accepted[-5000:])
        seed = ctx.request_seed(slot, 0)
        form = self.prompt_form(kind, ctx.llm)
        meta: dict[str, Any] = {
            "technique": self.technique, "kind": kind, "persona": plan["persona"], "phrasing": plan["phrasing"],
            "source_ids": [c.id for c in chunks], "contexts": [c.text for c in chunks],
            "template": f"qa_{kind}", "template_hash": "".join(p.hash for p in self.prompts.values()),
            "prompt_form": form, "seed": seed, "slot": slot,
        }
        if form == "document":  # the sheet names no persona or phrasing (a base model copies them)
            del meta["persona"], meta["phrasing"]
            meta.update(template="qa_factual_document", template_hash=sheet_hash(self.sheet))
        if kind != "unanswerable":
            self._warn_capacity(ctx.target)
            evidence = [plan["evidence"]] if kind == "factual" else list(plan["evidence"])
            allowed = answer_spans(evidence[0]) if kind == "factual" else multi_hop_answers(
                [evidence[0]], [evidence[1]], yes_no=asks_yes_no(plan["phrasing"]))
            # an answer an accepted pair with this evidence gave is not offered again (`dedup:same_evidence`)
            plan["answers"] = open_answers(evidence, allowed, answers_taken(ctx.accepted[-5000:]))
            if not plan["answers"]:  # no call: every answer of this evidence is in an accepted pair
                return [Rejection(stage="dedup", reason="evidence_used_up", data={"evidence": evidence, "kind": kind},
                                  detail=f"every answer of this evidence is in an accepted pair: {evidence[-1][:80]!r}",
                                  meta=meta)]
        request, options = self._request(kind, plan, seed)
        copied: set[str] = set()
        out: list[Record | Rejection] = []
        row = None
        for attempt in range(QA_TRIES):
            # a failed draw (cut off, copied, unsupported) is kept with its reason and drawn again
            if attempt:
                request = replace(request, seed=ctx.request_seed(slot, 20 + attempt))
                if copied and form == "chat":  # a draw that copied a worked example is drawn again without it
                    request = replace(request, messages=tuple(self._messages(kind, self._user_vars(kind, plan),
                                                                             frozenset(copied))))
            if form == "document":
                result, value = await self._document_draw(plan, request.seed, frozenset(copied), ctx)
            else:
                (result,) = await ctx.llm.generate([request])
            meta["model"] = result.model
            try_meta = {**meta, "seed": request.seed, "try": attempt + 1}
            if form == "document" and value is not None:
                rejection = None
            else:
                value, rejection = parse_object(result, try_meta)
            if rejection is None:
                if kind == "factual":
                    value = {**value, "evidence": plan["evidence"]}
                elif kind == "multi_hop":
                    value = {**value, "evidence_1": plan["evidence"][0], "evidence_2": plan["evidence"][1]}
                row = self._row(kind, value, chunks)
                problem = self._check_row(row, options, form)
                if problem is not None:
                    rejection = Rejection(stage="validate", reason=problem[0], detail=problem[1], data=row,
                                          raw=result.text, meta=try_meta)
            if rejection is None:
                meta.update(seed=request.seed, tries=attempt + 1)
                break
            out.append(rejection)
            if rejection.reason == "copies_example" and row is not None:
                mine = shingles(row["question"])
                copied.add(max(sorted(self._copy_sets[form][0]), key=lambda q: jaccard(mine, shingles(q))))
            row = None
        if row is None:
            return out
        return out + await self._finish(kind, row, chunks, ctx, slot, meta)

    async def _finish(self, kind: str, row: dict[str, Any], chunks: list[Chunk], ctx: GenContext, slot: int,
                      meta: dict[str, Any]) -> list[Record | Rejection]:
        dup = self._near_duplicate(row["question"], ctx.accepted)
        if dup is not None:
            return [Rejection(stage="dedup", reason="near_duplicate_question", detail=dup, data=row, meta=meta)]
        same = same_evidence(row, ctx.accepted[-5000:])
        if same is not None:
            return [Rejection(stage="dedup", reason="same_evidence", detail=same, data=row, meta=meta)]
        if self.config.judge and kind == "factual" and meta.get("prompt_form") == "document" and (
                style_of(ctx.llm) == "completion"):
            # the answer is a span of its evidence by construction, and a base judge's yes/no on such pairs
            # rejected good and bad ones alike (docs/benchmarks_junk.md): its call is not made
            meta["judge"] = "skipped: a span of the evidence, and the judge is a base model"
        elif self.config.judge:
            verdict = await self._judge(kind, row, chunks, ctx, slot)
            meta["judge"] = verdict
            if verdict is not None:
                return [Rejection(stage="judge", reason=verdict[0], detail=verdict[1], data=row, meta=meta)]
        return [Record(data=row, meta=meta)]

    def _request(self, kind: str, plan: dict[str, Any], seed: int) -> tuple[GenerationRequest, list[list[str]]]:
        chunks = plan["chunks"]
        options: list[list[str]]
        q = {"type": "string", "minLength": 10, "maxLength": 250}
        if kind == "factual":
            # the plan fixed the evidence sentence; the answer is a span of it (a clause, or all of it),
            # so it is supported by construction
            options = [[plan["evidence"]]]
            # the answer comes first, so the question is written knowing what it must ask for
            schema = object_schema({"answer": {"enum": plan.get("answers") or answer_spans(plan["evidence"])},
                                    "question": self._on_evidence(q, [plan["evidence"]])})
            user = self._user_vars(kind, plan)
        elif kind == "unanswerable":
            schema = object_schema({"question": q})
            user = {"passage": chunks[0].text, "persona": plan["persona"], "phrasing": plan["phrasing"]}
            options = []
        else:  # multi_hop
            # the plan fixed both sentences; the answer is a span of the second, alone or after Yes/No
            # "Yes:"/"No:" answers only with a yes/no phrasing, whose question starts as a yes/no question does
            options = [[plan["evidence"][0]], [plan["evidence"][1]]]
            yes_no = asks_yes_no(plan["phrasing"])
            question = self._on_evidence(q, plan["evidence"])
            if yes_no:
                question = {**question, "pattern": yes_no_pattern(question.get("pattern"))}
            schema = object_schema({"answer": {"type": "string", "enum": plan.get("answers") or multi_hop_answers(
                *options, yes_no=yes_no)}, "question": question})
            user = self._user_vars(kind, plan)
        request = GenerationRequest(messages=tuple(self._messages(kind, user)), json_schema=schema, seed=seed,
                                    **sampled(self.config.sampling))
        return request, options

    @staticmethod
    def _on_evidence(q: dict[str, Any], evidence: Sequence[str]) -> dict[str, Any]:
        """The question's schema with a pattern that asks for one of the evidence's key terms."""
        pattern = question_pattern(evidence)
        return {**q, "pattern": pattern} if pattern else q

    def prompt_form(self, kind: str, llm: Any) -> str:
        """The form of a slot's prompt: ``document`` (qa_document.py) for factual questions when the recipe
        says so, or says ``auto`` and every writer is a base model; ``chat`` otherwise (multi-hop and
        unanswerable questions always)."""
        return "chat" if kind != "factual" else resolve_form(self.config.prompt_form, llm)

    async def _document_draw(self, plan: dict[str, Any], seed: int | None, leave_out: frozenset[str],
                             ctx: GenContext) -> tuple[Any, dict[str, Any] | None]:
        """One factual draw in document form: the question (raw text to the line's end), then its answer
        (a span of the evidence, by an `enum`, greedy). (The last call's result, the value or None.)"""
        evidence = plan["evidence"]
        s = self.config.sampling
        # the form's own temperature unless the recipe wrote one
        written = "sampling" in self.config.model_fields_set and "temperature" in s.model_fields_set
        temperature = s.temperature if written else DOCUMENT_TEMPERATURE
        (q,) = await ctx.llm.generate([GenerationRequest(
            prompt=question_prompt(self.sheet, evidence, leave_out), stop=("\n",), seed=seed,
            max_tokens=min(QUESTION_MAX_TOKENS, s.max_tokens), temperature=temperature, top_p=s.top_p)])
        question = " ".join(q.text.split())
        if q.finish_reason != "stop":
            return q, None  # cut off: parse_object says so
        if not question:
            return q, {"question": "", "answer": ""}  # `question_too_short`
        answers = plan.get("answers") or answer_spans(evidence)
        (a,) = await ctx.llm.generate([GenerationRequest(
            prompt=answer_prompt(self.sheet, evidence, question, leave_out),
            json_schema={"type": "string", "enum": answers}, seed=seed, temperature=0.0,
            max_tokens=16 + max(len(x) for x in answers) // 2)])
        if not isinstance(a.parsed, str):
            return a, None
        # a rejection's raw text shows both lines the model wrote
        return replace(a, text=f"Question: {question}\nAnswer: {a.text}"), {"question": question, "answer": a.parsed}

    def _user_vars(self, kind: str, plan: dict[str, Any]) -> dict[str, Any]:
        chunks = plan["chunks"]
        if kind == "multi_hop":
            return {"passage_1": chunks[0].text, "passage_2": chunks[1].text, "evidence": plan["evidence"],
                    "persona": plan["persona"], "phrasing": plan["phrasing"]}
        return {"passage": chunks[0].text, "evidence": plan.get("evidence", ""), "persona": plan["persona"],
                "phrasing": plan["phrasing"]}

    def _row(self, kind: str, value: dict[str, Any], chunks: list[Chunk]) -> dict[str, Any]:
        if kind == "unanswerable":
            evidence: list[str] = []
            answer = self.config.unanswerable_answer
        elif kind == "multi_hop":
            evidence = [str(value.get("evidence_1", "")), str(value.get("evidence_2", ""))]
            answer = str(value.get("answer", "")).strip()
        else:
            evidence = [str(value.get("evidence", ""))]
            answer = str(value.get("answer", "")).strip()
        # a question copied across a wrapped line of the passage keeps no line break
        return {"question": " ".join(str(value.get("question", "")).split()), "answer": answer, "evidence": evidence,
                "source_ids": [c.id for c in chunks], "kind": kind}

    def _check_row(self, row: dict[str, Any], options: list[list[str]], form: str = "chat") -> Problem | None:
        kind, question = row["kind"], row["question"]
        example_questions, example_terms, example_names = self._copy_sets[form]
        if len(terms(question)) < 2:
            return Problem("question_too_short", f"question has too little content: {question!r}")
        if loose(question) in example_questions or any(
                jaccard(shingles(question), shingles(ex)) >= 0.6 for ex in example_questions):
            return Problem("copies_example", f"the question is (nearly) one of the prompt's examples: {question!r}")
        names = borrowed_names(question, example_names, self._kb_terms)
        if names:
            return Problem("copies_example", f"the question names {', '.join(names)}, from the prompt's examples "
                                             f"and nowhere in the knowledge base: {question!r}")
        borrowed = borrowed_terms(question, example_terms, self._kb_terms)
        if len(borrowed) >= 2:
            return Problem("copies_example", f"the question asks about {', '.join(borrowed)}, from the prompt's "
                                             f"examples and nowhere in the knowledge base: {question!r}")
        if len(question.split()) > 40 or question.count("?") > 2:
            return Problem("question_too_long", f"not one question: {question[:120]!r}")
        if form == "document" and not question.endswith("?"):  # the sheet's line holds one question
            return Problem("not_a_question", f"the line the model wrote is not a question: {question[:120]!r}")
        if kind != "unanswerable":
            # each quote must come from its own chunk: a multi-hop row cites both
            for quote_text, choices in zip(row["evidence"], options):
                problem = grounding_problem([quote_text], choices, kind)
                if problem is not None:
                    return problem
            lq = loose(question)
            for ev in row["evidence"]:
                if lq and (lq in loose(ev) or jaccard(shingles(question), shingles(ev)) > 0.85):
                    return Problem("question_copies_evidence", f"the question repeats its evidence: {question!r}")
            if not row["answer"]:
                return Problem("empty_answer", "no answer")
            ev_terms = set(terms(" ".join(row["evidence"])))
            a_terms = set(terms(row["answer"]))
            if a_terms and not (a_terms & ev_terms) and fold(row["answer"]).rstrip(".!") not in ("yes", "no"):
                return Problem("answer_not_in_evidence", f"the answer shares no content with its evidence: {row['answer']!r}")
            if len(a_terms) > 3:
                grounded = len(a_terms & (ev_terms | set(terms(question)))) / len(a_terms)
                if grounded < self.config.min_answer_overlap:
                    return Problem("answer_not_in_evidence", f"only {grounded:.0%} of the answer's content words come "
                                                             f"from its evidence or question: {row['answer'][:120]!r}")
            if kind == "multi_hop" and fold(row["evidence"][0]) == fold(row["evidence"][1]):
                return Problem("same_evidence", "both evidence quotes are the same sentence")
            if kind == "multi_hop" and bool(YES_NO_ANSWER.match(row["answer"])) != yes_no_question(question):
                why = ("a Yes:/No: answer to a question that is not yes/no" if YES_NO_ANSWER.match(row["answer"])
                       else "a yes/no question answered without yes or no")
                return Problem("answer_misfits_question", f"{why}: {question!r} / {row['answer'][:60]!r}")
            # the question asks about its evidence: at least one of its key terms is there
            if not question_meets_evidence(question, row["evidence"]):
                return Problem("question_off_evidence", f"the question shares no key term with its evidence: "
                                                        f"{question!r} / {row['evidence'][0][:80]!r}")
            # numbers, names and key words of the answer must be in its evidence, whatever the judge says
            problem = answer_support_problem(row["answer"], row["evidence"])
            if problem is not None:
                return problem
            # "What is a sky guide?" answered by a span that only mentions one
            problem = undefined_term_problem(question, row["answer"], row["evidence"])
            if problem is not None:
                return problem
        lq = loose(question)
        for cid in row.get("source_ids", []):
            chunk = self.corpus.get(cid)
            if chunk is not None and len(lq) > 20 and lq in loose(chunk.text):
                return Problem("question_copies_passage", f"the question is copied from {cid}: {question[:120]!r}")
        if kind == "unanswerable":  # its key terms must not all be in the knowledge base
            return answerable_problem(question, self._kb_terms)
        return None

    def _near_duplicate(self, question: str, accepted: Sequence[Record]) -> str | None:
        mine = shingles(question)
        for rec in accepted[-5000:]:
            other = rec.data.get("question") if isinstance(rec.data, dict) else None
            if not isinstance(other, str):
                continue
            key = rec.id
            sh = self._shingles.get(key)
            if sh is None:
                sh = self._shingles[key] = shingles(other)
            sim = jaccard(mine, sh)
            if sim >= self.config.near_duplicate:
                return f"3-gram Jaccard {sim:.2f} with accepted question {other!r}"
        return None

    async def _judge(self, kind: str, row: dict[str, Any], chunks: list[Chunk], ctx: GenContext,
                     slot: int) -> Problem | None:
        """None when the judge agrees; else the problem."""
        if kind == "unanswerable":
            hits = [i for i, _ in self.index.search(row["question"], k=2)]
            candidates = list(dict.fromkeys([chunks[0].id] + [self.corpus.chunks[i].id for i in hits]))
            requests = [verdict_request(answerable_messages(self.corpus.chunk(cid).text, row["question"]),
                                        ctx.request_seed(slot, 10 + k)) for k, cid in enumerate(candidates)]
            results = await ctx.llm.generate(requests)
            for cid, res in zip(candidates, results):
                v = verdict_of(res)
                if v is None:
                    return Problem("judge_unusable", f"judge answer not yes/no: {res.text[:80]!r}")
                if v == "yes":
                    return Problem("answerable", f"the judge found the answer in {cid}")
            return None
        (res,) = await ctx.llm.generate([verdict_request(
            support_messages(row["question"], row["answer"], row["evidence"]), ctx.request_seed(slot, 10))])
        v = verdict_of(res)
        if v is None:
            return Problem("judge_unusable", f"judge answer not yes/no: {res.text[:80]!r}")
        if v == "no":
            return Problem("unsupported", "the judge found the answer not supported by the evidence")
        return None


def _texts(example: Mapping[str, Any]) -> list[str]:
    """Every text of a worked example: its passages and its reply's fields."""
    out = [v for v in example.values() if isinstance(v, str)]
    if isinstance(example.get("output"), dict):
        out += [v for v in example["output"].values() if isinstance(v, str)]
    return out


def build(config: QATechnique, base_dir: Path) -> RagQAGenerator:
    return RagQAGenerator(config, base_dir)
