"""JSON-schema constrained decoding with llguidance.

llguidance compiles a JSON schema into a grammar and, at each decoding step,
computes the set of tokens that keep the output a valid prefix of some instance
of the schema (a bitmask over the vocabulary, typically in well under a
millisecond). The llama.cpp backend writes that mask into the model's logits
(disallowed tokens get -inf) before its own sampler runs, so the output conforms
by construction and sampling stays in C.

Two things make constrained decoding about as fast as free decoding here:

- The JSON layout is fixed (``", "`` and ``": "`` separators, no free
  whitespace), so a tiny model cannot wander into runs of newlines, and the
  output looks like the ``json.dumps`` examples in few-shot prompts.
- Tokens the grammar forces (a property name after ``{"``, the closing
  ``"}``...) are not sampled: llguidance reports them ("fast-forward tokens")
  and the backend evaluates them in the same batch as the sampled token.

Schemas llguidance cannot compile raise :class:`ConstraintUnavailable`; the
backend then decodes freely and parses, and says so in the log. Which values the
grammar closed at a length bound (``GenerationResult.truncated``) is ``truncation.py``.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping

import numpy as np

log = logging.getLogger(__name__)

# Compact, deterministic layout; identical to json.dumps(value) defaults.
JSON_OPTIONS: dict[str, Any] = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


class ConstraintUnavailable(Exception):
    """The schema cannot be turned into a grammar; decode freely instead."""


def _schema_key(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str)


def compile_schema(schema: Mapping[str, Any], tokenizer: Any, lenient: bool = True) -> str:
    """The llguidance grammar for a JSON schema, or ConstraintUnavailable.

    ``lenient`` makes llguidance ignore keywords it does not implement (they are
    checked after generation with jsonschema instead), so that an unusual keyword
    costs one retry at worst rather than the whole constraint.
    """
    import llguidance

    options = dict(JSON_OPTIONS)
    if lenient:
        options["lenient"] = True
    try:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(dict(schema), overrides=options)
    except (ValueError, TypeError) as exc:
        raise ConstraintUnavailable(str(exc)) from exc
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, tokenizer)
    if is_error:
        raise ConstraintUnavailable(messages[0] if messages else "invalid grammar")
    for m in messages:
        log.debug("llguidance: %s", m)
    return grammar


def without_patterns(schema: Any) -> Any:
    """A copy of the schema with every regex keyword (and absurd float bound) dropped: a wider schema.

    For schemas whose regexes llguidance cannot compile (look-around,
    backreferences) or whose float bounds it cannot turn into a regex (1.8e308):
    the structure is still enforced while decoding, and what was dropped is
    checked after generation by the caller's validation.
    """
    if isinstance(schema, list):
        return [without_patterns(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k == "pattern" and isinstance(v, str):
            continue
        if k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") and isinstance(v, float) \
                and abs(v) > 1e15:
            continue  # llguidance cannot build a range regex up to e.g. DBL_MAX
        if k in ("patternProperties", "propertyNames") and isinstance(v, dict):
            continue
        if k in ("properties", "definitions", "$defs") and isinstance(v, dict):
            out[k] = {name: without_patterns(sub) for name, sub in v.items()}
        elif k in ("enum", "const", "required", "examples", "default"):
            out[k] = v
        else:
            out[k] = without_patterns(v)
    return out


class JsonConstraint:
    """One schema's matcher plus the buffers to apply its mask to a logits row.

    Not thread-safe across requests: the backend runs one request at a time.
    ``reset()`` makes it reusable for the next request with the same schema.
    """

    def __init__(self, tokenizer: Any, grammar: str, n_vocab: int) -> None:
        import llguidance

        self._matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        if self._matcher.is_error():
            raise ConstraintUnavailable(self._matcher.get_error())
        self._n_vocab = n_vocab
        self._words = (n_vocab + 31) // 32
        self._mask = np.full(self._words, -1, dtype=np.int32)
        self._neg_inf = np.float32(-np.inf)

    def reset(self) -> None:
        self._matcher.reset()

    def clone(self) -> "JsonConstraint":
        """An independent copy in this one's state (batched decoding: one matcher per sequence)."""
        twin = object.__new__(JsonConstraint)
        twin._matcher = self._matcher.deep_copy()
        twin._n_vocab, twin._words, twin._neg_inf = self._n_vocab, self._words, self._neg_inf
        twin._mask = np.full(self._words, -1, dtype=np.int32)
        return twin

    @property
    def error(self) -> str | None:
        return self._matcher.get_error() if self._matcher.is_error() else None

    def is_stopped(self) -> bool:
        return self._matcher.is_stopped()

    def is_accepting(self) -> bool:
        return self._matcher.is_accepting()

    def compute_mask(self) -> None:
        """Fill the allowed-token bitmask for the next step (drops the GIL)."""
        self._matcher.unsafe_compute_mask_ptr(self._mask.ctypes.data, self._mask.nbytes)

    def apply_mask(self, logits: np.ndarray) -> None:
        """Set the logits of disallowed tokens to -inf, in place."""
        allowed = np.unpackbits(self._mask.view(np.uint8), count=self._n_vocab, bitorder="little")
        np.copyto(logits, self._neg_inf, where=allowed == 0)

    def allows(self, token: int) -> bool:
        """Whether the current mask allows ``token``."""
        word, bit = divmod(int(token), 32)
        return bool((int(self._mask.view(np.uint32)[word]) >> bit) & 1)

    def only_allowed(self) -> int | None:
        """The single allowed token when the mask allows exactly one, else None."""
        nz = np.flatnonzero(self._mask)
        if len(nz) != 1:
            return None
        word = int(self._mask[nz[0]]) & 0xFFFFFFFF
        if word & (word - 1):
            return None
        return int(nz[0]) * 32 + word.bit_length() - 1

    def forbid(self, token: int) -> bool:
        """Disallow one token for this step, unless it is the only one allowed."""
        word, bit = divmod(token, 32)
        words = self._mask.view(np.uint32)
        if not (int(words[word]) >> bit) & 1:
            return False
        words[word] &= np.uint32(~(1 << bit) & 0xFFFFFFFF)
        if not words.any():
            words[word] |= np.uint32(1 << bit)
            return False
        return True

    def consume(self, token: int) -> bool:
        return self._matcher.consume_token(token)

    def forced_tokens(self) -> list[int]:
        """Tokens the grammar forces next; already consumed by the matcher."""
        ff = self._matcher.compute_ff_tokens()
        if ff and not self._matcher.consume_tokens(ff):
            return []
        return list(ff)


def runaway_continuation(tokens: list[int], max_period: int = 24, min_span: int = 16) -> int | None:
    """The token that would extend a degenerate loop at the end of ``tokens``, else None.

    A loop is the last ``min_span`` (or more) tokens repeating with a period of
    1..``max_period`` tokens, at least 4 times: ``000000...``, ``1, 1, 1, ...``, a URL
    repeating its path (``schema/data-json/schema/data-json/...``: 10-20 tokens a turn).
    Banning its next token makes the grammar take another way out (close the
    number, the string, the array), where a tiny model would otherwise loop
    until ``max_tokens`` cuts the JSON off.
    """
    n = len(tokens)
    if n < min_span:
        return None
    last = tokens[-1]
    for p in range(1, max_period + 1):
        span = max(min_span, 4 * p)
        if n < span:
            break
        if tokens[n - 1 - p] != last:  # cheap test first: most periods fail here
            continue
        tail = tokens[n - span:]
        if tail[p:] == tail[:-p]:
            return tokens[n - p]
    return None


MAX_DIGIT_RUN = 24  # longer than any real number written as text (card 16, int64 19, ms timestamp 13)


def digit_run(tokens: list[int], piece: Callable[[int], bytes]) -> list[int]:
    """The tokens of a run of ``MAX_DIGIT_RUN`` or more digits at the end of ``tokens``, else [].

    A pattern such as ``^SAM[0-9]+$`` lets a tiny model write digits until ``max_tokens``
    (``0887190641470621095510406906...``) without ever repeating; banning digits after such a
    run makes the grammar close the string instead."""
    run: list[int] = []
    digits = 0
    for t in reversed(tokens):
        b = piece(t)
        if not b or not b.isdigit():
            break
        run.append(t)
        digits += len(b)
    return run if digits >= MAX_DIGIT_RUN else []


def break_runaways(constraint: "JsonConstraint", tokens: list[int], piece: Callable[[int], bytes],
                   digit_tokens: Callable[[], list[int]]) -> None:
    """Before sampling the next token: ban the token that would extend a loop (`runaway_continuation`)
    and, after a run of ``MAX_DIGIT_RUN`` digits, every digit token (`digit_run`). The grammar keeps
    at least one token allowed. The decoding step of both loops (`decode_step.step`) calls this."""
    loop = runaway_continuation(tokens)
    if loop is not None and constraint.forbid(loop):
        log.debug("broke a repetition loop at token %d", len(tokens))
    run = digit_run(tokens, piece)
    if run:
        for t in {*run, *digit_tokens()}:
            constraint.forbid(t)
        log.debug("stopped a run of digits at token %d", len(tokens))


# bytes: shorter texts are not guarded; a code, a word or two (`EUR`, `dream pop`) may rightly recur in
# any domain, while a dozen bytes of an example's free text repeated is a copy (the `copied_example`
# check after decoding reads texts of three words or more)
COPY_MIN = 12


def _value_start(out: bytes | bytearray) -> int:
    """Where the JSON string being written starts: after the last quote no backslash escapes."""
    i = len(out)
    while True:
        i = out.rfind(b'"', 0, i)
        if i < 0:
            return 0
        j = i
        while j > 0 and out[j - 1] == 0x5C:  # backslash
            j -= 1
        if (i - j) % 2 == 0:
            return i + 1


class CopyGuard:
    """Keeps a model from copying a few-shot example's text into its output.

    A small model shown three examples often writes one of them back word for word (measured on the
    bundled model: 15 of 67 calls of a three-example recipe lost to `copied_example` rejections, none
    with the guard). With the texts it must not copy, the decoder asks
    before each token whether the value being written (the bytes since the last ``"``) would then
    repeat more than half of one of them (at least ``COPY_MIN`` bytes), case aside; if so that token
    is banned and another is sampled. The model may start as an example starts, but must leave it
    halfway. The decoding step of both loops (`decode_step.step`) calls ``steer``."""

    def __init__(self, texts: Any) -> None:
        enc = {json.dumps(str(t), ensure_ascii=False)[1:-1].lower().encode() for t in texts}
        self.texts = sorted(t for t in enc if len(t) >= COPY_MIN)

    def copies(self, out: bytes | bytearray, piece: bytes) -> bool:
        """Whether appending ``piece`` to ``out`` copies more than half of a guarded text."""
        value = (bytes(out[_value_start(out):]) + piece).lower()
        for t in self.texts:
            n = min(len(value), len(t))
            if n >= max(COPY_MIN, len(t) // 2 + 1) and value[:n] == t[:n]:
                return True
        return False

    def steer(self, token: int, out: bytes | bytearray, piece: Callable[[int], bytes], logits: np.ndarray,
              constraint: "JsonConstraint | None", resample: Callable[[], int], tries: int = 8) -> int:
        """``token`` if it copies nothing, else the first resampled token that does not (at most
        ``tries``; then the last one, which the gates will judge)."""
        for _ in range(tries):
            if not self.copies(out, piece(token)):
                return token
            logits[token] = -np.inf
            if constraint is not None:
                if not constraint.forbid(token):  # the only token the grammar allows: keep it
                    return token
                only = constraint.only_allowed()
                token = only if only is not None else int(resample())
            else:
                token = int(resample())
        return token


class ConstraintCache:
    """Compiled grammars and matchers per schema, so repeated schemas cost nothing."""

    def __init__(self, tokenizer: Any, n_vocab: int, size: int = 32) -> None:
        self._tokenizer = tokenizer
        self._n_vocab = n_vocab
        self._size = size
        self._items: OrderedDict[str, JsonConstraint | str] = OrderedDict()
        self._lock = threading.Lock()

    def _build(self, schema: Any) -> JsonConstraint | str:
        try:
            grammar = compile_schema(schema, self._tokenizer)
            return JsonConstraint(self._tokenizer, grammar, self._n_vocab)
        except ConstraintUnavailable as exc:
            return str(exc) or "schema not supported"
        except Exception as exc:  # llguidance raises plain exceptions for some inputs
            return f"{type(exc).__name__}: {exc}"

    def get(self, schema: Mapping[str, Any]) -> JsonConstraint:
        """A reset constraint for this schema, or ConstraintUnavailable (also cached)."""
        key = _schema_key(schema)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
        if isinstance(item, str):
            raise ConstraintUnavailable(item)
        if item is not None:
            item.reset()
            return item
        item = self._build(schema)
        if isinstance(item, str):
            relaxed = without_patterns(schema)
            if relaxed != schema and not isinstance(second := self._build(relaxed), str):
                log.warning("schema enforced without its regex patterns while decoding (%s); "
                            "they are only checked afterwards", item[:200])
                item = second
        with self._lock:
            self._items[key] = item
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        if isinstance(item, str):
            raise ConstraintUnavailable(item)
        return item


def make_tokenizer(llama_cpp: Any, vocab: Any, eos_tokens: list[int] | None = None) -> Any:
    """An llguidance tokenizer over a llama.cpp vocab (a second or two; cache it).

    Same as ``llguidance.llamacpp.lltokenizer_from_vocab``, but with
    ``llama_vocab_get_attr``: the deprecated call that one uses warns once per
    token, 262k times for Gemma.
    """
    import ctypes

    from llguidance import LLTokenizer

    ntok = llama_cpp.llama_vocab_n_tokens(vocab)
    buf_len = 16 * 1024
    buf = ctypes.create_string_buffer(buf_len + 1)
    control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    user_defined = llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    tokens: list[bytes] = []
    for token in range(ntok):
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, buf_len, 0, True)
        if n < 0:
            raise ValueError(f"token {token} does not fit in {buf_len} bytes")
        tok = bytes(buf[:n])
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        # control tokens (and user-defined ones that look like them) are special to llguidance
        if attr & control or (attr & user_defined and tok.startswith(b"<") and tok.endswith(b">")):
            tok = b"\xff" + tok
        tokens.append(tok)
    fptr = ctypes.cast(llama_cpp.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
    eos: Any = eos_tokens if eos_tokens else llama_cpp.llama_vocab_eos(vocab)
    return LLTokenizer.from_llamacpp(tokens=tokens, vocab_ptr=vocab, tokenize_fptr=fptr, eos_token=eos, slices=None)



def pick_token(constraint: "JsonConstraint", logits: np.ndarray, sample: Callable[[], int]) -> tuple[int, bool]:
    """The next token under the schema's mask (its mask computed), and whether it was the model's own top
    choice: False when the grammar overrode it, e.g. a string closed at its maxLength (see
    `truncated_values`). A token the grammar forces is taken without sampling; otherwise the mask is
    written into `logits` and `sample()` (llama.cpp's sampler chain on those logits) picks."""
    only = constraint.only_allowed()
    top = int(np.argmax(logits))
    if only is not None:
        return only, top == only
    free = constraint.allows(top)
    constraint.apply_mask(logits)
    return int(sample()), free
