"""Classification's document form: the prompt a base model writes best from.

A base model (the bundled Gemma 3 270M) continues text; it does not follow instructions. Asked in
Input/Output turns for a JSON message ("chat" form), it wrote texts of which a reader accepted about 1 in
20 on a new label set; continuing a plain document, messages listed under their labels' names and
descriptions with the target label's section last and one open "-" line, about 1 in 3, in far shorter
calls (docs/benchmarks_junk.md). The document (prompts/classify_document.j2):

    Messages sorted by <task>. Each line is one real message, copied as the person wrote it.

    ## <Other label>: <its description>
    - <its example>

    ## <Label>: <its description>
    - <its own example>
    -

(The name in the heading keeps more texts on their label: with the description alone, the nearest-label
check rejected 117 of 162 candidates of a driving school's set, with both 43.)

Other labels' sections carry the user's examples (a few sections, a few lines each, in a seeded order); a
label set with few examples is preceded by documents of other domains built from the worked examples
(prompts/classify_examples.json). The prompt ends on "-" with no space: a trailing space made the model
write numbers and dates. Nothing else is said: instructions in a heading ("(one sentence, casual)") were
copied into the text, so attribute axes and samplers, which need words, use the chat form.
"""
from __future__ import annotations

import random
from typing import Any, Sequence

from ..llm.types import GenerationRequest, GenerationResult
from ..records import Rejection
from .classify_text import human

OTHER_SECTIONS = 6  # other labels' sections shown, each with its examples
PER_SECTION = 2  # example lines per other label
BORROW_BELOW = 4  # fewer of the label set's example lines than this: other domains' documents come first


def borrowed_documents(shots: Sequence[dict[str, Any]], k: int, rng: random.Random) -> list[dict[str, Any]]:
    """`k` documents of other domains, one per task of the worked examples, a section per example."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for s in shots:
        by_task.setdefault(s["task"], []).append(s)
    tasks = rng.sample(sorted(by_task), k=min(k, len(by_task)))
    return [{"task": t, "sections": [{"name": s["label"], "description": s["description"], "texts": [s["text"]]}
                                     for s in by_task[t]]}
            for t in tasks]


def document_prompt(template: Any, task: str | None, target: Any, others: Sequence[Any], own: Sequence[str],
                    shots: Sequence[dict[str, Any]], rng: random.Random) -> tuple[str, list[str]]:
    """(the document that ends on the target label's open line, the example texts it shows).

    `target`, `others`: labels (name, description, examples); `own`: the target's examples to show."""
    sections = []
    with_examples = [lab for lab in others if lab.examples]
    for lab in rng.sample(with_examples, k=min(OTHER_SECTIONS, len(with_examples))):
        texts = list(lab.examples)
        rng.shuffle(texts)
        sections.append({"name": human(lab.name), "description": lab.description, "texts": texts[:PER_SECTION]})
    sections.append({"name": human(target.name), "description": target.description, "texts": list(own)})
    shown = [t for sec in sections for t in sec["texts"]]
    docs = [{"task": task or "what each one is about", "sections": sections}]
    borrow = 2 if not shown else 1 if len(shown) < BORROW_BELOW else 0
    if borrow:
        docs = borrowed_documents(shots, borrow, rng) + docs
    return template.render(docs=docs) + "\n-", shown + [t for d in docs[:-1] for s in d["sections"] for t in s["texts"]]


def line_request(prompt: str, shown: Sequence[str], sampling: Any, seed: int) -> GenerationRequest:
    """One more line of the document: raw text up to the newline, no JSON. `avoid` keeps the decoder from
    writing an example back (the continuation starts with the space after "-")."""
    return GenerationRequest(prompt=prompt, stop=("\n",), max_tokens=sampling.max_tokens,
                             temperature=sampling.temperature, top_p=sampling.top_p, seed=seed,
                             avoid=tuple(" " + t for t in shown))


def read_line(result: GenerationResult, meta: dict[str, Any]) -> tuple[dict[str, Any] | None, Rejection | None]:
    """The written line as {"text": ...}, or why there is none (the call failed, or it hit max_tokens).
    Shared by the document forms that write one line of a list (classification, augment)."""
    if result.error or result.finish_reason == "error":
        return None, Rejection(stage="parse", reason="backend_error", detail=str(result.error)[:300],
                               raw=result.text, meta=meta)
    if result.finish_reason == "length":
        return None, Rejection(stage="parse", reason="truncated",
                               detail=f"cut off by max_tokens after {result.completion_tokens} tokens: "
                                      f"{result.text[-120:]!r}", raw=result.text, meta=meta)
    return {"text": result.text.strip().removeprefix("-").strip()}, None
