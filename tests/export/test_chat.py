"""Chat formats: the shapes trainers read, with and without input and system prompt."""
import pytest

from synthloom.errors import UsageError
from synthloom.export.chat import Fields, convert, to_alpaca, to_chatml, to_openai, to_sharegpt

ROW = {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"}
NO_INPUT = {"instruction": "Name a prime number.", "output": "7"}


def test_openai_messages():
    assert to_openai(ROW) == {"messages": [
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour"}]}
    m = to_openai(NO_INPUT, system="Be brief.")["messages"]
    assert m[0] == {"role": "system", "content": "Be brief."} and m[1]["content"] == "Name a prime number."


def test_sharegpt_conversations():
    c = to_sharegpt(ROW, system="Be brief.")["conversations"]
    assert [t["from"] for t in c] == ["system", "human", "gpt"]
    assert c[1]["value"] == "Translate to French.\n\nGood morning" and c[2]["value"] == "Bonjour"


def test_alpaca_keeps_fields_and_fills_missing_input():
    assert to_alpaca(ROW) == ROW
    assert to_alpaca(NO_INPUT) == {"instruction": "Name a prime number.", "input": "", "output": "7"}
    assert to_alpaca(NO_INPUT, system="S")["system"] == "S"


def test_chatml_text():
    text = to_chatml(NO_INPUT, system="Be brief.")["text"]
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nName a prime number.<|im_end|>\n"
                    "<|im_start|>assistant\n7<|im_end|>\n")


def test_other_field_names():
    row = {"question": "2+2?", "answer": "4"}
    assert to_openai(row)["messages"][1]["content"] == "4"
    row = {"q": "2+2?", "ctx": "", "a": "4"}
    assert to_alpaca(row, fields=Fields("q", "ctx", "a"))["output"] == "4"


def test_missing_fields_and_unknown_format_are_clear():
    with pytest.raises(UsageError, match="no 'instruction' / 'output' field"):
        to_openai({"text": "x"})
    with pytest.raises(UsageError, match="unknown chat format 'vicuna'"):
        list(convert([ROW], "vicuna"))
