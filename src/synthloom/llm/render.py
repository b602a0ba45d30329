"""Turn a request's chat messages into the text a local model continues.

Two styles:

- ``completion`` for base models (the bundled Gemma 3 270M is one): the system
  text, then each user/assistant turn as an ``Input: ...`` line and an
  ``Output:`` line with the answer below it, and an open ``Output:`` block at the
  end (ending in a newline, so the answer's first token is the same one the
  examples start with: ``{`` for JSON, not `` {``). A base model has seen countless such
  transcripts and continues them with one more output, which is what we want.
- ``chat`` for instruction-tuned GGUFs: the model's own chat template (Jinja2,
  stored in the GGUF metadata), with the generation prompt opened.

``auto`` picks ``chat`` only when the GGUF carries a chat template *and* its
metadata says it is instruction-tuned; a template alone is not enough, since
base GGUFs often ship one they were never trained on.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .types import GenerationRequest

INPUT_LABEL = "Input:"
OUTPUT_LABEL = "Output:"
# A blank line between blocks; a base model that finished one output tends to
# start the next "Input:" block, so that is a natural stop.
BLOCK_SEP = "\n\n"
COMPLETION_STOPS: tuple[str, ...] = ("\n\nInput:", "\nInput:")

_TUNED_MARKERS = ("instruct", "-it", "_it", " it", "chat", "sft", "dpo", "rlhf")


def is_instruction_tuned(metadata: Mapping[str, Any]) -> bool:
    """Guess from GGUF metadata whether the model was tuned to follow chat turns."""
    finetune = str(metadata.get("general.finetune", "")).lower()
    if finetune:
        return any(m.strip(" -_") in finetune for m in _TUNED_MARKERS)
    name = " " + str(metadata.get("general.name", "")).lower() + " "
    return any(m in name for m in _TUNED_MARKERS) or name.rstrip().endswith(" it")


def choose_style(style: str, metadata: Mapping[str, Any]) -> str:
    """Resolve ``auto`` to ``chat`` or ``completion`` for one model."""
    if style != "auto":
        return style
    has_template = bool(metadata.get("tokenizer.chat_template"))
    return "chat" if has_template and is_instruction_tuned(metadata) else "completion"


def style_of(llm: Any) -> str:
    """How the model(s) behind `llm` read a prompt: ``completion`` when every one is a base model that
    continues plain text (the bundled Gemma 3 270M), else ``chat``. Walks wrappers (``inner``) and pools
    (``members``); an object that says nothing (a test double, an OpenAI-compatible server) is ``chat``.
    Techniques use it to pick their prompt's form: a base model writes far better continuing a document
    (a list of messages under a heading) than answering Input/Output turns (docs/benchmarks_junk.md)."""
    seen: set[int] = set()
    while llm is not None and id(llm) not in seen:
        seen.add(id(llm))
        own = getattr(llm, "prompt_style", None)
        if isinstance(own, str):
            return own
        members = getattr(llm, "members", None)
        if members:
            styles = {style_of(m[0] if isinstance(m, tuple) else m) for m in members}
            return "completion" if styles == {"completion"} else "chat"
        llm = getattr(llm, "inner", None)
    return "chat"


def resolve_form(setting: str, llm: Any, plain: bool = True) -> str:
    """A technique's `prompt_form` as a run uses it: `document` or `chat` where the recipe says so; for `auto`,
    `document` when the writer is a base model (`style_of`) and the slot asks for nothing a document cannot
    say (`plain`: no attribute axes, samplers ...), else `chat`."""
    if setting != "auto":
        return setting
    return "document" if plain and style_of(llm) == "completion" else "chat"


def render_completion(messages: Sequence[Mapping[str, str]]) -> str:
    """Messages as a plain few-shot transcript that ends with an open output block.

    >>> render_completion([{"role": "system", "content": "Write JSON."},
    ...                    {"role": "user", "content": "a cat"}])
    'Write JSON.\\n\\nInput: a cat\\nOutput:\\n'
    """
    parts: list[str] = []
    system = [m["content"].strip() for m in messages if m.get("role") == "system"]
    if system:
        parts.append("\n\n".join(s for s in system if s))
    turns = [m for m in messages if m.get("role") != "system"]
    block: list[str] = []
    for m in turns:
        content = (m.get("content") or "").strip()
        if m.get("role") == "assistant":
            block.append(f"{OUTPUT_LABEL}\n{content}")
            parts.append("\n".join(block))
            block = []
        else:
            if block:  # two user turns in a row: keep both in one input
                block[-1] += "\n" + content
            else:
                block.append(f"{INPUT_LABEL} {content}")
    if block:
        block.append(OUTPUT_LABEL + "\n")
        parts.append("\n".join(block))
    elif not turns or turns[-1].get("role") == "assistant":
        # the transcript ends with an answer (or has no turns): open a new output
        parts.append(OUTPUT_LABEL + "\n")
    return BLOCK_SEP.join(p for p in parts if p)


def render_chat(messages: Sequence[Mapping[str, str]], template: str, bos: str = "", eos: str = "") -> str:
    """Messages through the GGUF's Jinja2 chat template, generation prompt opened."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    tmpl = env.from_string(template)
    return tmpl.render(
        messages=[dict(m) for m in messages],
        bos_token=bos,
        eos_token=eos,
        add_generation_prompt=True,
        raise_exception=raise_exception,
    )


def render_request(
    request: GenerationRequest,
    style: str,
    template: str | None = None,
    bos: str = "",
    eos: str = "",
) -> tuple[str, tuple[str, ...]]:
    """The prompt text for one request and the extra stop strings that go with it.

    ``request.prompt`` is used as it is. ``style`` is ``completion`` or ``chat``
    (already resolved from ``auto``).
    """
    if request.prompt is not None:
        return request.prompt, ()
    messages = request.messages or ()
    if style == "chat" and template:
        return render_chat(messages, template, bos, eos), ()
    return render_completion(messages), COMPLETION_STOPS
