"""Self-Instruct: prompt composition, filters, classification order, instances, seeds, and a run through the engine."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fakes import ScriptedLLM
from synthloom.config import Recipe
from synthloom.config.instruct import SelfInstructTechnique
from synthloom.errors import InputFileError
from synthloom.generators.base import GenContext
from synthloom.generators.instruct_seeds import load_seed_tasks
from synthloom.generators.self_instruct import CLF_NO, CLF_YES, build
from synthloom.generators.instruct_filters import InstructionFilter
from synthloom.records import Record, Rejection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = EXAMPLES / "seeds.jsonl"


def responder(instruction="List three ways to reduce food waste at home.", clf=False, instances=None,
              finish=None):
    instances = instances if instances is not None else [{"input": "", "output": "Plan meals; freeze leftovers; compost."}]

    def respond(req):
        if req.purpose == "self_instruct:instruction":
            return {"instruction": instruction}
        if req.purpose == "self_instruct:classify":
            return {"output_type": CLF_YES if clf else CLF_NO}
        return {"instances": instances}
    return respond


def gen(**cfg):
    return build(SelfInstructTechnique(seeds=str(SEEDS), **cfg), EXAMPLES)


def run(g, llm, slot=0, accepted=None):
    return asyncio.run(g.produce(slot, GenContext(llm=llm, seed=0, accepted=accepted or [])))


def _tasks_shown(req):
    return [json.loads(m["content"])["instruction"] for m in req.messages if m["role"] == "assistant"]


def test_prompt_shows_8_tasks_6_seeds_2_generated_shuffled():
    g = gen()
    seeds = {s.instruction for s in g.seeds}
    pool = [Record({"instruction": f"Generated task number {i} about topic {i}.", "input": "", "output": "x"},
                   {"technique": "self_instruct"}) for i in range(5)]
    orders = set()
    for slot in range(6):
        shown, req = g.task_prompt(slot, GenContext(llm=None, seed=0, accepted=pool))
        assert shown == _tasks_shown(req)
        assert len(shown) == 8
        assert sum(s in seeds for s in shown) == 6 and sum(s.startswith("Generated") for s in shown) == 2
        assert req.json_schema["required"] == ["instruction"]
        assert req.messages[-1]["content"].strip() == "Task 9"
        orders.add(tuple(s in seeds for s in shown))
    assert len(orders) > 1  # generated tasks are not always in the same positions


def test_small_pool_fills_with_seeds():
    g = gen()
    one = [Record({"instruction": "Generated task about birds and their songs.", "input": "", "output": "x"},
                  {"technique": "self_instruct"})]
    shown, _ = g.task_prompt(0, GenContext(llm=None, seed=0, accepted=[]))
    assert len(shown) == 8 and set(shown) <= {s.instruction for s in g.seeds}
    shown, _ = g.task_prompt(0, GenContext(llm=None, seed=0, accepted=one))
    assert len(shown) == 8 and one[0].data["instruction"] in shown


def test_accepted_task_becomes_records_with_lineage():
    llm = ScriptedLLM(responder(instances=[{"input": "", "output": "Plan meals."},
                                           {"input": "a family of four", "output": "Buy in bulk, freeze."}]))
    out = run(gen(), llm)
    assert [type(o) for o in out] == [Record, Record]
    assert out[0].data == {"instruction": "List three ways to reduce food waste at home.", "input": "",
                           "output": "Plan meals."}
    m = out[0].meta
    assert m["technique"] == "self_instruct" and m["task_id"] == out[1].meta["task_id"]
    assert m["is_classification"] is False and m["prompt_tasks"] == 8 and m["template_hash"]
    assert [r.purpose for r in llm.requests] == ["self_instruct:instruction", "self_instruct:classify",
                                                 "self_instruct:instances"]


def test_classification_tasks_get_output_first_instances():
    llm = ScriptedLLM(responder(instruction="Tell me whether the animal is a mammal, a bird or a fish.", clf=True,
                                instances=[{"output": "bird", "input": "penguin"}]))
    out = run(gen(), llm)
    assert isinstance(out[0], Record) and out[0].meta["is_classification"] is True
    req = llm.requests[-1]
    assert list(req.json_schema["properties"]["instances"]["items"]["properties"]) == ["output", "input"]
    shots = [json.loads(m["content"]) for m in req.messages if m["role"] == "assistant"]
    assert all(list(i) == ["output", "input"] for s in shots for i in s["instances"])
    assert "class label" in req.messages[0]["content"]
    # and the few-shot examples are classification seeds
    clf_seeds = {s.instruction for s in gen().seeds if s.is_classification}
    users = [m["content"].removeprefix("Task: ") for m in req.messages[1:-1] if m["role"] == "user"]
    assert users and set(users) <= clf_seeds


def test_other_tasks_get_input_first_instances():
    llm = ScriptedLLM(responder())
    run(gen(), llm)
    req = llm.requests[-1]
    assert list(req.json_schema["properties"]["instances"]["items"]["properties"]) == ["input", "output"]
    assert req.json_schema["properties"]["instances"]["maxItems"] == 2


@pytest.mark.parametrize("instruction,reason", [
    ("Draw the layout of your neighbourhood with the main streets.", "blacklist:draw"),
    ("Write a haiku", "length"),
    ("Write a program that sorts a list of names alphabetically.", "write_a_program"),
    ("* Name three primary colors used in painting.", "starts_with_punctuation"),
    ("Give three tips for staying focused while studying at home.", "rouge_l>0.7"),  # a seed, verbatim
])
def test_filtered_instruction_is_rejected_before_any_instance_call(instruction, reason):
    llm = ScriptedLLM(responder(instruction=instruction))
    (rej,) = run(gen(), llm)
    assert isinstance(rej, Rejection) and rej.stage == "filter" and rej.reason == reason
    assert rej.data == {"instruction": instruction}
    assert len(llm.requests) == 1


def test_truncated_instruction_is_dropped():
    class Cut(ScriptedLLM):
        async def generate(self, requests):
            from dataclasses import replace
            return [replace(r, finish_reason="length") for r in await super().generate(requests)]

    (rej,) = run(gen(), Cut(responder()))
    assert rej.reason == "truncated"


def test_instance_filters_reject_with_reasons():
    llm = ScriptedLLM(responder(instances=[{"input": "abc", "output": "abc"}, {"input": "", "output": ""}]))
    out = run(gen(), llm)
    assert sorted(o.reason for o in out) == ["empty_output", "output_equals_input"]
    llm = ScriptedLLM(responder(instances=[{"input": "x y", "output": "1"}, {"input": "x y", "output": "2"}]))
    out = run(gen(), llm)
    assert {o.reason for o in out} == {"same_input_different_output"}


def test_configurable_blacklist():
    llm = ScriptedLLM(responder(instruction="Describe your favourite song and why you love it."))
    (rej,) = run(gen(blacklist=["song"]), llm)
    assert rej.reason == "blacklist:song"


def test_rouge_gate_is_installed_and_stateful():
    (gate,) = gen(signals=[]).gates()
    assert gate.stateful and gate.stage == "filter"
    assert len(gate.pool) == 20  # the seeds


def write(tmp_path, text):
    p = tmp_path / "seeds.jsonl"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,expect", [
    ("", ["seeds.jsonl", "0 task", "add seed tasks"]),
    ("\n\n", ["seeds.jsonl", "0 task"]),
    ('{"instruction": "ok", "output": "y"}\nnot json\n', ["seeds.jsonl:2", "not valid JSON", "one JSON object per line"]),
    ('{"output": "y"}\n', ["seeds.jsonl:1", "missing field 'instruction'"]),
    ('{"instruction": "Say hi.", "input": ""}\n', ["seeds.jsonl:1", "missing field 'output'"]),
    ('[1, 2]\n', ["seeds.jsonl:1", "expected a JSON object"]),
    ('{"instruction": 5, "output": "y"}\n', ["seeds.jsonl:1", "'instruction' must be a string"]),
    ('{"instruction": "Say hi.", "output": "hi", "is_classification": "yes"}\n', ["is_classification", "true or false"]),
])
def test_bad_seed_files_get_clear_errors(tmp_path, text, expect):
    p = write(tmp_path, text)
    with pytest.raises(InputFileError) as err:
        load_seed_tasks(p, need_output=True)
    for part in expect:
        assert part in str(err.value)


def test_missing_seed_file(tmp_path):
    with pytest.raises(InputFileError, match="seed file not found"):
        build(SelfInstructTechnique(seeds="nope.jsonl"), tmp_path)


def test_paper_seed_format_is_read(tmp_path):
    line = {"id": "seed_task_0", "name": "breakfast", "instruction": "Is there anything I can eat for a breakfast?",
            "instances": [{"input": "", "output": "Yes, oatmeal."}], "is_classification": False}
    (t,) = load_seed_tasks(write(tmp_path, json.dumps(line) + "\n"), need_output=True)
    assert t.id == "seed_task_0" and t.output == "Yes, oatmeal." and not t.is_classification


def test_example_seed_file_is_valid():
    tasks = load_seed_tasks(SEEDS, need_output=True)
    assert 15 <= len(tasks) <= 30 and sum(t.is_classification for t in tasks) >= 4


def test_engine_run_installs_gate_and_keeps_pool_distinct(tmp_path):
    """Through the engine: near-copies of accepted tasks are rejected by the stateful gate."""
    from synthloom.engine import run_recipe

    topics = ["Explain to a child how volcanoes form, in two short paragraphs.",
              "Explain to a child how volcanoes form, in three short paragraphs.",  # near copy: rejected
              "Write a limerick about a cat who hates Mondays.",
              "Suggest five questions to ask at the end of a job interview.",
              "Summarize the plot of a heist movie in one sentence.",
              "Translate the greeting into Spanish and Italian for a postcard.",
              "Compare renting and buying a home for a young couple."]
    state = {"i": 0}

    def respond(req):
        if req.purpose == "self_instruct:instruction":
            t = topics[state["i"] % len(topics)]
            state["i"] += 1
            return {"instruction": t}
        if req.purpose == "self_instruct:classify":
            return {"output_type": CLF_NO}
        return {"instances": [{"input": "", "output": "They form slowly over many years."}]}

    recipe = Recipe.model_validate({"name": "si", "count": 5,
                                    "generate": {"technique": "self_instruct", "seeds": str(SEEDS), "signals": []},
                                    "engine": {"concurrency": 1}})
    s = run_recipe(recipe, output=tmp_path / "out", llm=ScriptedLLM(respond))
    assert s.accepted == 5
    rows = [json.loads(l) for l in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert len({r["instruction"] for r in rows}) == 5
    assert ("filter", "rouge_l>0.7") in {(st, r) for st, r, _ in s.rejections}
    f = InstructionFilter()
    assert all(f.check(r["instruction"]) is None for r in rows)


@pytest.mark.model
@pytest.mark.timeout(900)
def test_bundled_model_end_to_end(tmp_path):
    """CLI on the bundled model: records in data.jsonl pass every filter; exports load with json and datasets."""
    datasets = pytest.importorskip("datasets")
    from typer.testing import CliRunner

    from synthloom.cli import app
    from synthloom.generators.instruct_filters import Instance, check_instance
    from synthloom.quality.rouge import rouge_l

    out = tmp_path / "si"
    r = CliRunner().invoke(app, ["generate", "self-instruct", "--seeds", str(SEEDS), "-n", "2", "-o", str(out),
                                 "--instances-per-task", "1", "--max-new-tokens", "160", "--max-attempts", "10"])
    assert r.exit_code in (0, 1), r.output
    assert (out / "data.jsonl").is_file(), f"exit {r.exit_code}, no data.jsonl:\n{r.output}\n{r.exception!r}"
    rows = [json.loads(l) for l in (out / "data.jsonl").read_text().splitlines()]
    assert rows, "no record accepted in 10 attempts"
    seeds = [s.instruction for s in load_seed_tasks(SEEDS)]
    f = InstructionFilter()
    for i, row in enumerate(rows):
        assert set(row) == {"instruction", "input", "output"}
        assert f.check(row["instruction"]) is None
        assert check_instance(Instance(row["input"], row["output"])) is None
        others = seeds + [o["instruction"] for o in rows[:i] if o["instruction"] != row["instruction"]]
        assert max(rouge_l(o, row["instruction"]) for o in others) <= 0.7
    assert json.loads((out / "manifest.json").read_text())["counts"]["accepted"] == len(rows)

    r = CliRunner().invoke(app, ["export", str(out), "--format", "hf", "--split", "1", "-o", str(tmp_path / "hf")])
    assert r.exit_code == 0, r.output
    assert len(datasets.load_from_disk(str(tmp_path / "hf"))["train"]) == len(rows)
    r = CliRunner().invoke(app, ["export", str(out), "--format", "openai", "--split", "1", "-o", str(tmp_path / "oa"),
                                 "--system", "You are helpful."])
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in (tmp_path / "oa" / "train.jsonl").read_text().splitlines()]
    assert len(lines) == len(rows) and lines[0]["messages"][0]["role"] == "system"
    assert "## Rejection funnel" in (tmp_path / "oa" / "README.md").read_text()


def test_backend_errors_and_parse_errors_are_told_apart():
    from dataclasses import replace

    class Broken(ScriptedLLM):
        def __init__(self, error, finish="stop"):
            super().__init__(responder())
            self.error, self.finish = error, finish

        async def generate(self, requests):
            return [replace(r, error=self.error, finish_reason=self.finish, parsed=None, text="{\"instr")
                    for r in await super().generate(requests)]

    assert run(gen(), Broken("parse: output is cut off by max_tokens", "length"))[0].reason == "truncated"
    assert run(gen(), Broken("parse: output is not valid JSON"))[0].reason == "invalid_json"
    assert run(gen(), Broken("connection reset"))[0].reason == "backend_error"


def test_cli_bad_seed_file_exits_2_with_file_line_and_fix(tmp_path):
    from typer.testing import CliRunner

    from synthloom.cli import app

    bad = write(tmp_path, '{"instruction": "Say hi to me.", "output": "hi"}\n{"instruction": "Oops", "output": }\n')
    for cmd in (["generate", "self-instruct"], ["generate", "evol-instruct"]):
        r = CliRunner().invoke(app, [*cmd, "--seeds", str(bad), "-n", "1", "-o", str(tmp_path / "o")])
        assert r.exit_code == 2
        text = " ".join(r.output.split())
        assert "seeds.jsonl:2" in text and "not valid JSON" in text and "Traceback" not in r.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = CliRunner().invoke(app, ["generate", "self-instruct", "--seeds", str(empty), "-n", "1", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "0 task" in " ".join(r.output.split())
    assert not (tmp_path / "o" / "data.jsonl").exists()


def test_tasks_per_prompt_are_configurable():
    g = gen(seed_tasks_per_prompt=3, pool_tasks_per_prompt=1)
    pool = [Record({"instruction": "Generated task about the history of tea.", "input": "", "output": "x"},
                   {"technique": "self_instruct"})]
    shown, req = g.task_prompt(0, GenContext(llm=None, seed=0, accepted=pool))
    assert len(shown) == 4 and pool[0].data["instruction"] in shown
    assert req.messages[-1]["content"].strip() == "Task 5"


class BaseWriter(ScriptedLLM):
    """A fake base model: `style_of` reads it as one that continues plain text."""
    prompt_style = "completion"


def _document_responder(line):
    def respond(req):
        if req.purpose == "self_instruct:instruction":
            assert req.prompt is not None and req.messages is None and req.json_schema is None
            return line
        return responder()(req)
    return respond


def test_base_writer_gets_the_papers_numbered_list_and_one_line_back():
    pool = [Record({"instruction": "Generated task about\nbirds and their songs.", "input": "", "output": "x"},
                   {"technique": "self_instruct"})]
    llm = BaseWriter(_document_responder(" Name three birds that sing at night."))
    out = run(gen(), llm, accepted=pool)
    req = llm.requests[0]
    lines = req.prompt.split("\n")
    assert lines[:2] == ["Come up with a series of tasks:", ""]
    # the shown tasks numbered 1..8, each on one line, and the open "9." with no trailing space
    assert lines[-1] == "9." and len(lines) == 2 + 8 + 1
    shown = [ln.split(". ", 1)[1] for ln in lines[2:-1]]
    assert [ln.split(". ", 1)[0] for ln in lines[2:-1]] == [str(i) for i in range(1, 9)]
    assert "Generated task about birds and their songs." in shown  # a pooled task, its newline flattened
    assert req.stop == ("\n",) and set(req.avoid) == {" " + t for t in shown}
    assert [type(o) for o in out] == [Record]
    assert out[0].data["instruction"] == "Name three birds that sing at night."
    assert out[0].meta["prompt_form"] == "document" and out[0].meta["template"] == "self_instruct_tasks_document"
    # the later steps keep their JSON turns
    assert [r.json_schema is not None for r in llm.requests] == [False, True, True]


@pytest.mark.parametrize("line,reason", [
    (" Give three tips for staying focused while studying at home.", "rouge_l>0.7"),  # a seed written back
    ("", "length"),
    (" * Name three primary colors used in painting.", "starts_with_punctuation"),
])
def test_document_form_lines_go_through_the_same_filters(line, reason):
    llm = BaseWriter(_document_responder(line))
    (rej,) = run(gen(), llm)
    assert rej.stage == "filter" and rej.reason == reason and len(llm.requests) == 1


def test_document_form_cut_line_is_truncated_and_chat_form_can_be_forced():
    class Cut(BaseWriter):
        async def generate(self, requests):
            from dataclasses import replace
            return [replace(r, finish_reason="length") for r in await super().generate(requests)]

    (rej,) = run(gen(), Cut(_document_responder(" Write a long list of every")))
    assert rej.reason == "truncated" and rej.meta["prompt_form"] == "document"
    llm = BaseWriter(responder())
    (rec,) = run(gen(prompt_form="chat"), llm)
    assert llm.requests[0].messages and rec.meta["prompt_form"] == "chat"
    # a writer that says nothing of its style (a chat server, this fake) gets the chat turns under auto
    llm = ScriptedLLM(responder())
    run(gen(), llm)
    assert llm.requests[0].prompt is None and llm.requests[0].json_schema["required"] == ["instruction"]
