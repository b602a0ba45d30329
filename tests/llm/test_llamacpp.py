"""The in-process llama.cpp backend on the real bundled model (Gemma 3 270M, base)."""
from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from synthloom.config.models import LlamaCppModel
from synthloom.errors import InputFileError
from synthloom.llm.llamacpp import LlamaCppLLM
from synthloom.llm.prefix_states import MIN_GAIN
from synthloom.llm.types import LLM, GenerationRequest

SCHEMAS = {
    "enum": {
        "type": "object",
        "properties": {
            "issue": {"type": "string", "enum": ["refund", "double charge", "cancellation"]},
            "urgent": {"type": "boolean"},
        },
        "required": ["issue", "urgent"],
        "additionalProperties": False,
    },
    "integer_bounds": {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 30}, "age": {"type": "integer", "minimum": 18, "maximum": 65}},
        "required": ["name", "age"],
    },
    "array": {
        "type": "array",
        "items": {"type": "string", "maxLength": 20},
        "minItems": 2,
        "maxItems": 4,
    },
    "nested": {
        "type": "object",
        "properties": {
            "customer": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 30}, "plan": {"enum": ["free", "pro"]}},
                "required": ["name", "plan"],
            },
            "amount": {"type": "number", "minimum": 0, "maximum": 1000},
        },
        "required": ["customer", "amount"],
    },
}

PERSON = {"name": "Ana Silva", "age": 34}
FEW_SHOT = (
    {"role": "system", "content": "Write one JSON record that matches the request."},
    {"role": "user", "content": "a customer"},
    {"role": "assistant", "content": json.dumps(PERSON)},
    {"role": "user", "content": "another record"},
)


@pytest.fixture(scope="module")
def llm():
    backend = LlamaCppLLM(LlamaCppModel())
    yield backend
    asyncio.run(backend.aclose())


def run(llm, *requests):
    return asyncio.run(llm.generate(list(requests)))


def test_backend_implements_the_protocol_and_names_the_model(llm):
    assert isinstance(llm, LLM)
    assert llm.identity.startswith("llamacpp:gemma-3-270m-q4_k_m.gguf@a5fd3b62")


@pytest.mark.model
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_constrained_output_validates_against_the_schema(llm, name):
    schema = SCHEMAS[name]
    (result,) = run(llm, GenerationRequest(messages=FEW_SHOT, json_schema=schema, max_tokens=120, seed=7))
    assert result.ok, result.error
    assert result.finish_reason == "stop"
    # generation ends when the JSON value is complete: nothing trails it
    assert json.loads(result.text) == result.parsed
    jsonschema.validate(result.parsed, schema)
    assert 0 < result.completion_tokens < 120 and result.prompt_tokens > 0 and result.latency_s > 0


@pytest.mark.model
def test_same_seed_same_output_and_other_seed_differs(llm):
    schema = SCHEMAS["integer_bounds"]
    reqs = [GenerationRequest(messages=FEW_SHOT, json_schema=schema, max_tokens=60, seed=s, temperature=1.0)
            for s in (1, 2, 3, 1)]
    results = run(llm, *reqs)
    assert results[0].text == results[3].text
    assert len({r.text for r in results[:3]}) > 1


@pytest.mark.model
def test_unconstrained_completion_and_length_cutoff(llm):
    (free, cut) = run(
        llm,
        GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=12, temperature=0.0),
        GenerationRequest(prompt="Count: one, two, three,", max_tokens=3, temperature=0.0),
    )
    assert free.ok and "Thursday" in free.text and free.finish_reason in ("stop", "length")
    assert cut.finish_reason == "length" and cut.completion_tokens == 3 and cut.parsed is None


@pytest.mark.model
def test_stop_strings_end_the_output(llm):
    (result,) = run(llm, GenerationRequest(prompt="Monday, Tuesday, Wednesday,", max_tokens=40,
                                           temperature=0.0, stop=("Friday",)))
    assert result.finish_reason == "stop"
    assert "Friday" not in result.text and "Thursday" in result.text


@pytest.mark.model
def test_cut_off_json_reports_length_and_a_parse_error(llm):
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    (result,) = run(llm, GenerationRequest(messages=FEW_SHOT, json_schema=schema, max_tokens=5, seed=1))
    assert result.finish_reason == "length" and result.completion_tokens == 5
    assert result.parsed is None and "max_tokens" in result.error


@pytest.mark.model
def test_schema_llguidance_cannot_compile_falls_back_to_free_decoding(llm, caplog):
    schema = {"type": "object", "properties": {"a": {"$ref": "#/definitions/missing"}}}
    with caplog.at_level("WARNING", logger="synthloom.llm.llamacpp"):
        (result,) = run(llm, GenerationRequest(messages=FEW_SHOT, json_schema=schema, max_tokens=40, seed=1))
    assert result.finish_reason in ("stop", "length")  # no crash; output parsed when possible
    assert "decoding freely" in caplog.text


@pytest.mark.model
def test_regex_llguidance_cannot_compile_is_dropped_but_structure_kept(llm, caplog):
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(?!X)[A-Z]{3}$"}},
              "required": ["code"], "additionalProperties": False}
    with caplog.at_level("WARNING", logger="synthloom.llm.constrain"):
        (result,) = run(llm, GenerationRequest(messages=FEW_SHOT, json_schema=schema, max_tokens=40, seed=1))
    assert "without its regex patterns" in caplog.text
    assert isinstance(result.parsed, dict) and list(result.parsed) == ["code"]  # structure still enforced


@pytest.mark.model
def test_llama_cpp_grammar_mode_also_conforms():
    backend = LlamaCppLLM(LlamaCppModel(constrained="grammar"))
    assert backend.identity.endswith("#constrained=grammar")
    try:
        (result,) = run(backend, GenerationRequest(messages=FEW_SHOT, json_schema=SCHEMAS["enum"], max_tokens=40, seed=3))
    finally:
        asyncio.run(backend.aclose())
    jsonschema.validate(result.parsed, SCHEMAS["enum"])


@pytest.mark.model
def test_min_p_samples_only_from_the_tokens_nearly_as_likely_as_the_best(llm):
    """`min_p` keeps the tokens at least that share as likely as the most likely one: near 1 a hot sampler
    writes what greedy decoding writes, whatever the seed; its calls are cached apart (the identity says so)."""
    prompt = "Messages sorted by what each one is about.\n\n## Weather: the person talks about the weather\n-"
    hot = [GenerationRequest(prompt=prompt, max_tokens=16, temperature=1.5, seed=s, stop=("\n",)) for s in (1, 2, 3)]
    narrow = LlamaCppLLM(LlamaCppModel(min_p=0.95))
    assert narrow.identity == f"{llm.identity.split('#')[0]}#min_p=0.95"
    try:
        (greedy,) = run(narrow, GenerationRequest(prompt=prompt, max_tokens=16, temperature=0.0, stop=("\n",)))
        assert greedy.text.strip() and [r.text for r in run(narrow, *hot)] == [greedy.text] * 3
    finally:
        asyncio.run(narrow.aclose())
    wide = LlamaCppLLM(LlamaCppModel(min_p=0.0))
    try:
        assert "#min_p" not in wide.identity and len({r.text for r in run(wide, *hot)}) > 1
    finally:
        asyncio.run(wide.aclose())


@pytest.mark.model
def test_event_loop_keeps_running_while_the_model_decodes(llm):
    async def scenario():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        t = asyncio.create_task(ticker())
        await llm.generate([GenerationRequest(prompt="Once upon a time", max_tokens=24, seed=1)])
        done.set()
        await t
        return ticks

    assert asyncio.run(scenario()) > 3


def test_missing_gguf_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(InputFileError) as err:
        LlamaCppLLM(LlamaCppModel(path=str(missing)))
    assert str(missing) in str(err.value) and "bundled" in str(err.value)


def test_non_gguf_file_is_a_clear_error(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_text("not a model")
    with pytest.raises(InputFileError, match="not a GGUF file"):
        LlamaCppLLM(LlamaCppModel(path=str(bogus)))


def _shots(order: list[int], ask: str) -> tuple[dict, ...]:
    people = [{"name": "Ana Silva", "age": 34}, {"name": "Tom Berg", "age": 51}, {"name": "Mei Chen", "age": 27}]
    messages: list[dict] = [{"role": "system", "content": "Write one JSON record of a customer. " * 8}]
    for i in order:
        messages += [{"role": "user", "content": "a customer"}, {"role": "assistant", "content": json.dumps(people[i])}]
    return (*messages, {"role": "user", "content": ask})


@pytest.mark.model
def test_a_prompt_takes_its_prefix_from_a_stored_state_and_decodes_as_without_it():
    """Prompts that alternate between two few-shot orders: the live context only holds the last one,
    the stored states give each prompt its own order's prefix back, and the output is the one a
    fresh context decodes."""
    schema = SCHEMAS["integer_bounds"]
    a1, b, a2 = (GenerationRequest(messages=_shots(order, ask), json_schema=schema, max_tokens=40, temperature=0)
                 for order, ask in (([0, 1, 2], "a customer from Lisbon"), ([2, 1, 0], "a customer"),
                                    ([0, 1, 2], "a customer from Oslo")))
    backend = LlamaCppLLM(LlamaCppModel())
    try:
        backend.generate_sync([a1, b])
        m = backend._model()
        assert m.states is not None and len(m.states) == 2 and m.states.restored == 0
        (reused,) = backend.generate_sync([a2])
        assert m.states.restored == 1
        # a2 shares its system text and three examples with a1, but only the system text with b
        # (reused up to the last chunk end in each: 46 tokens more from a1's state)
        assert m.states.saved_tokens >= MIN_GAIN
    finally:
        backend._unload()
    fresh = LlamaCppLLM(LlamaCppModel())
    try:
        (alone,) = fresh.generate_sync([a2])
        assert fresh._model().states.restored == 0
    finally:
        fresh._unload()
    assert reused.ok and jsonschema.validate(reused.parsed, schema) is None
    assert reused.text == alone.text


NOTE = "Please refund the duplicate payment for March, my card was charged twice."
NOTE_SCHEMA = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 120}}, "required": ["note"],
               "additionalProperties": False}
NOTE_SHOTS = ({"role": "system", "content": "Write one customer note as JSON."},
              {"role": "user", "content": "a note about a refund"}, {"role": "assistant", "content": json.dumps({"note": NOTE})},
              {"role": "user", "content": "a note about a refund"})


@pytest.mark.model
@pytest.mark.parametrize("batch", [1, 4])
def test_avoid_keeps_the_model_from_copying_its_example(batch):
    """Shown one example and asked for the same thing, the model copies it (seeds 0 and 3 here);
    with the example's text in `avoid`, no output repeats it and every output is still valid."""
    backend = LlamaCppLLM(LlamaCppModel(batch=batch))
    try:
        def notes(avoid):
            out = backend.generate_sync([GenerationRequest(messages=NOTE_SHOTS, json_schema=NOTE_SCHEMA, max_tokens=80,
                                                           temperature=0.7, seed=s, avoid=avoid) for s in range(4)])
            assert all(r.ok for r in out)
            return [r.parsed["note"] for r in out]

        assert NOTE in notes(())
        guarded = notes((NOTE,))
    finally:
        backend._unload()
    assert NOTE not in guarded
    # the model may begin as the example begins, but leaves it before half of it
    assert all(not NOTE.lower().startswith(n.lower()[: len(NOTE) // 2 + 1]) for n in guarded)


# -- a request's output does not depend on what the process decoded before it (issue 37) ------------

def _watched(backend) -> list[tuple[str, list[int]]]:
    """Per request from now on: a digest of the logits its prompt ends with, and the tokens it
    generated and evaluated. Appended to as `backend` decodes."""
    m = backend._model()
    seen: list[tuple[str, list[int]]] = []
    feed, evaluate = m.feed_prompt, m.llm.eval
    generated: list[list[int] | None] = [None]

    def feed_prompt(tokens):
        generated[0] = None
        feed(tokens)
        generated[0] = []
        seen.append((hashlib.sha256(m.logits_row().tobytes()).hexdigest(), generated[0]))

    def eval_(batch):
        evaluate(batch)
        if generated[0] is not None:
            generated[0].extend(batch)

    m.feed_prompt = feed_prompt
    m.llm.eval = eval_
    return seen


CITIES = ("Lisbon", "Oslo", "Porto", "Lyon", "Turin", "Ghent", "Bergen", "Malmo", "Graz", "Leeds", "Cork", "Basel",
          "Split", "Tartu", "Kaunas", "Brno", "Pecs", "Varna")
LINES = [f"Customer {i + 1}: {c}, account {1000 + 37 * i}\n" for i, c in enumerate(CITIES)]


def _varied_requests() -> list[GenerationRequest]:
    """Prompts of 250-290 tokens that share their system text, or it and all their examples, in other
    orders; greedy, and one sampled with a seed; and a plain prompt that is the start of another one
    (its last chunk, computed with logits, is a middle chunk of the longer prompt)."""
    schema = SCHEMAS["integer_bounds"]
    asks = (([0, 1, 2], "a customer from Lisbon"), ([2, 1, 0], "a customer"), ([0, 1, 2], "a customer from Oslo"),
            ([1, 0, 2], "a customer from Porto"))
    reqs = [GenerationRequest(messages=_shots(order, ask) * 2, json_schema=schema, max_tokens=24, temperature=0)
            for order, ask in asks]
    reqs.append(GenerationRequest(messages=_shots([0, 1, 2], "a customer from Lisbon") * 2, json_schema=schema,
                                  max_tokens=24, temperature=0.9, seed=5))
    reqs.append(GenerationRequest(prompt="".join(LINES[:12]), max_tokens=12, temperature=0))
    reqs.append(GenerationRequest(prompt="".join(LINES) + "Customer 19:", max_tokens=12, temperature=0))
    return reqs


@pytest.mark.model
def test_a_request_decodes_to_the_same_tokens_whatever_came_before_it():
    """Each request alone on a fresh model, then in three orders after other requests, with the prompt
    states and without them (the live context only): the prompt's last logits are bit for bit the same,
    and so are the tokens decoded. Exact equality of every computation, so no near-tie decides it.
    The thread count (taken from the idle cores when unset) changes nothing either: 1 and 2 threads."""
    reqs = _varied_requests()
    alone = []
    for i, req in enumerate(reqs + reqs[:1]):
        fresh = LlamaCppLLM(LlamaCppModel(n_threads=1 if i < len(reqs) else 2))
        try:
            seen = _watched(fresh)
            (result,) = fresh.generate_sync([req])
            assert result.ok, result.error
            alone.append((seen[0][0], seen[0][1], result.text))
        finally:
            fresh._unload()
    assert alone.pop() == alone[0]  # 2 threads
    assert len({a[0] for a in alone}) == len(reqs) - 1  # distinct prompts (the sampled one repeats the first)
    for states in (True, False):
        backend = LlamaCppLLM(LlamaCppModel(n_threads=1))
        try:
            m = backend._model()
            if not states:
                m.states = None
            seen = _watched(backend)
            order = [0, 1, 2, 3, 4, 5, 6] + [6, 5, 4, 3, 2, 1, 0] + [2, 0, 4, 1, 5, 6]
            results = [backend.generate_sync([reqs[i]])[0] for i in order]
            got = [(digest, tokens, r.text) for (digest, tokens), r in zip(seen, results)]
            assert got == [alone[i] for i in order], f"prompt states {'on' if states else 'off'}"
            assert m.live_reused > 0  # consecutive prompts took their shared chunks from the live context
            if states:
                assert m.states.restored >= 3 and m.states.saved_tokens >= 3 * 32
        finally:
            backend._unload()


@pytest.mark.model
def test_the_demo_recipe_gives_the_same_records_with_and_without_prompt_reuse(tmp_path, monkeypatch):
    """The demo recipe, a few records: a run that reuses prompt prefixes (live context and prompt
    states) and a run that evaluates every prompt from token 0 write the same file."""
    from synthloom import load_recipe, run_recipe
    from synthloom.llm import llama_model

    examples = Path(__file__).resolve().parents[2] / "examples"
    recipe = load_recipe(examples / "billing-tickets.yaml", {"count": 6})
    reused = tmp_path / "reused.jsonl"
    run_recipe(recipe, base_dir=examples, output=reused)
    monkeypatch.setattr(llama_model, "PrefixStates", lambda *a, **k: None)
    monkeypatch.setattr(llama_model, "common_prefix", lambda a, b: 0)
    fresh = tmp_path / "fresh.jsonl"
    run_recipe(recipe, base_dir=examples, output=fresh)
    rows = reused.read_text().splitlines()
    assert len(rows) == 6
    assert fresh.read_text().splitlines() == rows
