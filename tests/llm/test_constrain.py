"""Prompt rendering and constrained decoding pieces, without the model where possible."""
from __future__ import annotations

import json

import numpy as np
import pytest

from synthloom.llm.render import (
    COMPLETION_STOPS,
    choose_style,
    is_instruction_tuned,
    render_completion,
    render_request,
)
from synthloom.llm.types import GenerationRequest


def test_completion_transcript_ends_with_open_output_block():
    example = json.dumps({"name": "Ana", "age": 34})
    text = render_completion(
        [
            {"role": "system", "content": "Write one JSON record about a person."},
            {"role": "user", "content": "a teacher"},
            {"role": "assistant", "content": example},
            {"role": "user", "content": "a pilot"},
        ]
    )
    assert text == (
        "Write one JSON record about a person.\n\n"
        f"Input: a teacher\nOutput:\n{example}\n\n"
        "Input: a pilot\nOutput:\n"
    )


def test_completion_without_system_or_with_trailing_answer():
    assert render_completion([{"role": "user", "content": "hi"}]) == "Input: hi\nOutput:\n"
    # a transcript that ends with an answer opens a new output block
    text = render_completion([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert text.endswith("Output:\nb\n\nOutput:\n")


def test_consecutive_user_turns_merge_into_one_input():
    text = render_completion([{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])
    assert text == "Input: one\ntwo\nOutput:\n"


def test_raw_prompt_is_used_as_is_and_gets_no_transcript_stops():
    req = GenerationRequest(prompt="Once upon a time", messages=None)
    assert render_request(req, "completion") == ("Once upon a time", ())
    req = GenerationRequest(messages=({"role": "user", "content": "x"},))
    prompt, stops = render_request(req, "completion")
    assert prompt == "Input: x\nOutput:\n" and stops == COMPLETION_STOPS


def test_chat_style_uses_the_gguf_template():
    template = (
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    req = GenerationRequest(messages=({"role": "user", "content": "hello"},))
    prompt, stops = render_request(req, "chat", template, bos="<s>")
    assert prompt == "<s><user>hello</user><assistant>" and stops == ()


@pytest.mark.parametrize(
    "metadata, style",
    [
        ({"general.name": "Gemma 3 270m"}, "completion"),  # the bundled base model: no template
        ({"general.name": "Gemma 3 270m", "tokenizer.chat_template": "{{x}}"}, "completion"),  # base + template
        ({"general.name": "Gemma 3 270m It", "tokenizer.chat_template": "{{x}}"}, "chat"),
        ({"general.finetune": "Instruct", "tokenizer.chat_template": "{{x}}"}, "chat"),
        ({"general.finetune": "instruct"}, "completion"),  # tuned, but no template to use
    ],
)
def test_auto_style_picks_chat_only_for_tuned_models_with_a_template(metadata, style):
    assert choose_style("auto", metadata) == style
    assert choose_style("completion", metadata) == "completion"


def test_instruction_tuned_detection():
    assert is_instruction_tuned({"general.name": "Qwen2.5 0.5B Instruct"})
    assert not is_instruction_tuned({"general.name": "Llama 3.2 1B"})


def test_mask_application_sets_disallowed_logits_to_minus_inf():
    from synthloom.llm.constrain import JsonConstraint

    c = JsonConstraint.__new__(JsonConstraint)  # the buffers only; no matcher needed
    n = 70
    c._n_vocab, c._words = n, (n + 31) // 32
    c._neg_inf = np.float32(-np.inf)
    c._mask = np.zeros(c._words, dtype=np.int32)
    for tok in (0, 5, 33, 69):
        c._mask.view(np.uint32)[tok // 32] |= np.uint32(1 << (tok % 32))
    logits = np.arange(n, dtype=np.float32)
    c.apply_mask(logits)
    assert sorted(np.flatnonzero(np.isfinite(logits)).tolist()) == [0, 5, 33, 69]
    assert c.only_allowed() is None
    c._mask[:] = 0
    c._mask[1] = np.int32(-(1 << 31))  # token 63: the sign bit of a word
    assert c.only_allowed() == 63


def test_relaxed_schema_drops_regexes_and_absurd_float_bounds_only():
    from synthloom.llm.constrain import without_patterns

    schema = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "pattern": "^(?!x)"},  # a property *named* pattern survives
            "step": {"type": "number", "minimum": 0.0, "maximum": 1.7976931348623157e308},
            "n": {"type": "integer", "maximum": 10},
        },
        "patternProperties": {"^x-": {}},
        "required": ["pattern"],
    }
    relaxed = without_patterns(schema)
    assert relaxed["properties"]["pattern"] == {"type": "string"}
    assert relaxed["properties"]["step"] == {"type": "number", "minimum": 0.0}
    assert relaxed["properties"]["n"] == {"type": "integer", "maximum": 10}
    assert "patternProperties" not in relaxed and relaxed["required"] == ["pattern"]


def test_copy_guard_bans_a_value_past_half_of_a_guarded_text():
    from synthloom.llm.constrain import CopyGuard

    guard = CopyGuard(["How do I cancel my plan?", "AP-0093", 'He said "hi" twice today'])
    assert guard.texts == sorted([b"how do i cancel my plan?", b'he said \\"hi\\" twice today'])  # ids are too short
    out = bytearray(b'{"body": "x", "subject": "How do I ca')
    assert not guard.copies(out[:-1], b"")  # "How do I c": 10 bytes, under half of 24 + 1
    assert guard.copies(out, b"ncel")  # 14 bytes of it: more than half
    assert guard.copies(bytearray(b'{"subject": "HOW DO I CANCEL'), b" my")  # case aside
    assert not guard.copies(bytearray(b'{"subject": "How do I change'), b" my")  # left the text already
    assert not guard.copies(bytearray(b'{"subject": "How do I cancel my plan?", "x": '), b'"')  # a new value begins
    assert guard.copies(bytearray(b'{"q": "He said \\"hi\\" tw'), b"ice")  # compared as JSON text, escapes included


def test_copy_guard_steers_to_the_next_token_that_copies_nothing():
    import numpy as np

    from synthloom.llm.constrain import CopyGuard

    pieces = {0: b"ncel my plan", 1: b"ncel my", 2: b"ncel it"}
    guard = CopyGuard(["How do I cancel my plan?"])
    logits = np.array([3.0, 2.0, 1.0])
    token = guard.steer(0, bytearray(b'{"s": "How do I ca'), pieces.__getitem__, logits, None,
                        lambda: int(np.argmax(logits)))
    assert token == 2 and logits[0] == -np.inf and logits[1] == -np.inf  # "ncel it" leaves the text
