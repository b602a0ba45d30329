"""One request's preparation and one token's decisions, shared by both llama.cpp decode loops.

The in-process backend decodes one sequence at a time (``llamacpp.py``) or several in one
``llama_decode`` per step (``batched.py``). The two loops differ only in how tokens are evaluated
and where a sequence's logits row lies; everything a request decides lives here, once:

- `prepare`: render and tokenize the prompt, check it against the context, pick the schema's
  constraint (llguidance matcher, GBNF grammar, or none), the stop strings, the token budget
  and the copy guard;
- `step`: from the logits of a sequence's last evaluated token, pick the next token under the
  schema's mask (`constrain.pick_token`) after breaking runaway loops and digit runs
  (`constrain.break_runaways`), keep it from copying an example (`constrain.CopyGuard`), take the
  tokens the grammar forces, mark the tokens the grammar chose (`Decoding.overridden`, read by
  `truncation.truncated_values`), and end the sequence at end-of-generation, a stop string, the
  budget or the deadline; it returns the tokens to evaluate next;
- `result`: the `GenerationResult` of a finished sequence (parsed reply, truncated values).

So the same request with the same seed makes the same decisions on both paths; with one
sequence at a time (batch width 1) they decode the same tokens (``tests/llm/test_decode_step.py``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .constrain import ConstraintUnavailable, CopyGuard, JsonConstraint, break_runaways, pick_token
from .jsontext import read_reply
from .llama_model import _gbnf_for
from .render import render_request
from .truncation import truncated_values
from .types import GenerationRequest, GenerationResult

log = logging.getLogger("synthloom.llm.llamacpp")


@dataclass
class Prepared:
    """A request rendered and tokenized, with its constraint, stops and budget decided (`prepare`)."""

    request: GenerationRequest
    tokens: list[int]
    budget: int
    stops: list[bytes]
    constraint: JsonConstraint | None
    gbnf: str | None
    t0: float
    error: str | None = None  # set: the request fails without decoding (prompt too long)
    guard: CopyGuard | None = None  # the request's `avoid` texts (constrain.CopyGuard)


@dataclass
class Decoding:
    """One sequence's state while it decodes; `step` advances it."""

    out: bytearray = field(default_factory=bytearray)
    overridden: list[tuple[int, int]] = field(default_factory=list)  # byte spans the grammar chose, not the model
    gen_tokens: list[int] = field(default_factory=list)
    n_gen: int = 0
    finish: str = "length"
    cut_by: str = "max_tokens"
    deadline: float | None = None


@dataclass
class Decoded:
    """What a loop produced for one request; `result` turns it into a GenerationResult."""

    text: str = ""
    finish: str = "length"
    cut_by: str = "max_tokens"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    overridden: list[tuple[int, int]] = field(default_factory=list)
    constrained: bool = False
    latency_s: float = 0.0
    error: str | None = None
    tokens: list[int] = field(default_factory=list)  # generated and forced, in order


def copy_guard(req: GenerationRequest) -> CopyGuard | None:
    """The request's guard against copying its examples (`GenerationRequest.avoid`), if it has texts to guard."""
    if not req.avoid:
        return None
    guard = CopyGuard(req.avoid)
    return guard if guard.texts else None


def constraint_for(m: Any, mode: str, schema: Any) -> tuple[JsonConstraint | None, str | None]:
    """The schema's llguidance matcher (``constrained: llguidance``) or GBNF grammar (``grammar``);
    neither without a schema, with ``none``, or when the schema cannot be enforced (logged)."""
    if schema is None or mode == "none":
        return None, None
    try:
        if mode == "grammar":
            return None, _gbnf_for(schema)
        return m.constraints().get(schema), None
    except ConstraintUnavailable as exc:
        log.warning("schema cannot be enforced while decoding (%s); decoding freely and validating after", exc)
        return None, None


def prepare(m: Any, req: GenerationRequest, mode: str, n_ctx: int) -> Prepared:
    """Render and tokenize the request for the loaded model ``m`` (``llama_model._Loaded``) and decide
    what its decoding needs. ``n_ctx`` is the context a sequence may fill (``model.n_ctx``); a longer
    prompt is a `Prepared` with ``error`` set. The constraint is the request's own copy."""
    t0 = time.perf_counter()
    prompt, extra_stops = render_request(req, m.style, m.template, m.bos_text, m.eos_text)
    tokens = m.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=(m.style == "chat"))
    if len(tokens) >= n_ctx:
        return Prepared(req, tokens, 0, [], None, None, t0,
                        error=f"prompt has {len(tokens)} tokens, more than the context (model.n_ctx={n_ctx}); "
                              "raise n_ctx or shorten the prompt")
    constraint, gbnf = constraint_for(m, mode, req.json_schema)
    constrained = constraint is not None or gbnf is not None
    # Transcript stops ("\nInput:") only make sense for free text; a user's stops always apply.
    stops = [s.encode() for s in (*req.stop, *(() if constrained else extra_stops)) if s]
    return Prepared(req, tokens, min(req.max_tokens, n_ctx - len(tokens)), stops,
                    constraint.clone() if constraint is not None else None, gbnf, t0, guard=copy_guard(req))


def step(m: Any, p: Prepared, s: Decoding, row: Callable[[], np.ndarray], sample: Callable[[], int],
         fast_forward: bool = True) -> list[int] | None:
    """One decoding step of one sequence whose logits are ready: the tokens to evaluate next (the
    sampled one and any the grammar forces), or None when the sequence is finished (``s.finish``,
    ``s.cut_by`` say why). ``row()`` is the sequence's logits row (written in place: the mask, the
    copy guard's bans) and ``sample()`` runs its sampler chain on it; ``fast_forward`` off samples
    even the tokens the grammar forces (to measure what evaluating them in one batch buys)."""
    if s.n_gen >= p.budget:
        return None
    constraint, guard = p.constraint, p.guard
    if constraint is not None:
        constraint.compute_mask()
        break_runaways(constraint, s.gen_tokens, m.piece, m.digit_tokens)
        logits = row()
        token, free = pick_token(constraint, logits, sample)
        if guard is not None:
            token = guard.steer(token, s.out, m.piece, logits, constraint, sample)
        if not free:
            s.overridden.append((len(s.out), len(s.out) + len(m.piece(token))))
    else:
        token = sample()
        if guard is not None and p.gbnf is None:  # a GBNF sampler has accepted the token already
            token = guard.steer(token, s.out, m.piece, row(), None, sample)
    if m.is_eog(token):
        s.finish = "stop"
        return None
    s.n_gen += 1
    batch = [token]
    s.gen_tokens.append(token)
    s.out += m.piece(token)
    if constraint is not None:
        if not constraint.consume(token):
            log.warning("llguidance rejected token %d: %s", token, constraint.error)
            s.finish = "stop"
            return None
        if constraint.is_stopped():
            s.finish = "stop"
            return None
        forced = constraint.forced_tokens() if fast_forward else ()
        for ff in forced[: p.budget - s.n_gen]:
            batch.append(ff)
            s.gen_tokens.append(ff)
            s.overridden.append((len(s.out), len(s.out) + len(m.piece(ff))))
            s.out += m.piece(ff)
            s.n_gen += 1
        if constraint.is_stopped():
            s.finish = "stop"
            return None
    if p.stops:
        max_stop = max(len(x) for x in p.stops)
        window = bytes(s.out[-(max_stop + 64 * len(batch)):])
        cut = find_stop(window, p.stops)
        if cut is not None:
            del s.out[len(s.out) - len(window) + cut:]
            s.finish = "stop"
            return None
    if s.n_gen >= p.budget:
        return None
    if s.deadline is not None and time.perf_counter() > s.deadline:
        log.info("request stopped at its deadline (request_timeout_s)")
        s.cut_by = "request_timeout_s"
        return None
    return batch


def decoded(p: Prepared, s: Decoding) -> Decoded:
    """A finished sequence's `Decoded`."""
    return Decoded(text=s.out.decode("utf-8", "replace"), finish=s.finish, cut_by=s.cut_by,
                   prompt_tokens=len(p.tokens), completion_tokens=s.n_gen, overridden=s.overridden,
                   constrained=p.constraint is not None, latency_s=time.perf_counter() - p.t0,
                   tokens=s.gen_tokens)


def failed(p: Prepared, error: str) -> Decoded:
    """The `Decoded` of a request that fails without output (``p.error``, or an exception while decoding)."""
    return Decoded(finish="error", prompt_tokens=len(p.tokens), error=error, latency_s=time.perf_counter() - p.t0)


def result(req: GenerationRequest, d: Decoded, model: str) -> GenerationResult:
    """The request's `GenerationResult`: the reply read against its schema, and which values the
    grammar closed at a length bound (``truncated``)."""
    parsed, kind, error = None, ("backend" if d.error else None), d.error
    truncated: tuple[str, ...] = ()
    if req.json_schema is not None and d.finish != "error":
        parsed, kind, error = read_reply(d.text, d.finish, req.json_schema, d.cut_by)
        if d.constrained and parsed is not None:
            truncated = truncated_values(d.text, parsed, req.json_schema, d.overridden)
    return GenerationResult(text=d.text, parsed=parsed, finish_reason=d.finish, prompt_tokens=d.prompt_tokens,
                            completion_tokens=d.completion_tokens, latency_s=d.latency_s, model=model,
                            error=error, error_kind=kind, truncated=truncated)


def find_stop(window: bytes, stops: list[bytes]) -> int | None:
    """Where the first of ``stops`` begins in ``window``, or None."""
    best = None
    for s in stops:
        i = window.find(s)
        if i >= 0 and (best is None or i < best):
            best = i
    return best
