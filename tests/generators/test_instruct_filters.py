"""Every Self-Instruct filter and Evol-Instruct elimination rule, with cases that must pass and must fail."""
import asyncio

import pytest

from synthloom.generators.instruct_filters import (
    Instance,
    InstructionFilter,
    SelfInstructRougeGate,
    check_instance,
    copies_template,
    filter_instances,
    is_refusal,
    judge_says_equal,
    no_information_gain,
    only_stopwords,
)
from synthloom.records import Record, Rejection

F = InstructionFilter()


@pytest.mark.parametrize("inst", [
    "Write a haiku about autumn leaves.",
    "Give me three reasons to learn a second language.",
    "Classify the sentiment of the following movie review as positive or negative.",
    "Sort these numbers: 3, 1, 2.",  # exactly 4 words after 'Sort'? -> 5 words, fine
])
def test_good_instructions_pass(inst):
    assert F.check(inst) is None


@pytest.mark.parametrize("inst,reason", [
    ("Write a poem", "length"),                      # 3 words: needs more than 3
    ("Summarize this text.", "length"),
    (" ".join(["word"] * 151), "length"),
    ("Describe the image of a cat on the mat.", "blacklist:image"),
    ("Draw your house and garden for me.", "blacklist:draw"),
    ("Plot the function y = x^2 from -1 to 1.", "blacklist:plot"),
    ("Tell me how to go to the station from here.", "blacklist:go to"),
    ("Open the FILE and count its lines please.", "blacklist:file"),
    ("Write a program that prints the first ten primes.", "write_a_program"),
    ("- List five fruits that are red.", "starts_with_punctuation"),
    ("\"Translate this sentence into French please.", "starts_with_punctuation"),
    ("¿Cómo se dice hello en francés, por favor?", "starts_with_non_ascii"),
    ("Écris un poème sur la mer, s'il te plaît.", "starts_with_non_ascii"),
])
def test_bad_instructions_fail_with_reason(inst, reason):
    v = F.check(inst)
    assert v is not None and v.reason == reason
    assert v.detail


def test_blacklist_matches_whole_words_only():
    assert F.check("Give me a profile summary of this employee.") is None  # 'file' inside 'profile'
    assert F.check("Name three famous graphic designers from Italy.") is None  # 'graph' inside 'graphic'


def test_blacklist_is_configurable():
    f = InstructionFilter(blacklist=["recipe"])
    assert f.check("Describe the image of a cat on the mat.") is None
    assert f.check("Give me a recipe for tomato soup tonight.").reason == "blacklist:recipe"


def test_rouge_gate_rejects_near_copies_of_seeds_and_accepted_tasks():
    gate = SelfInstructRougeGate(["Write a short poem about the sea and the sky."], threshold=0.7)
    rec = lambda inst, task: Record({"instruction": inst, "input": "", "output": "x"}, {"task_id": task})
    out = asyncio.run(gate.check(rec("Write a short poem about the sea and the stars.", "t1"), None))
    assert isinstance(out, Rejection) and out.reason == "rouge_l>0.7" and out.stage == "filter"
    assert "seed" in out.detail
    ok = rec("List three famous bridges in Europe and their cities.", "t2")
    assert asyncio.run(gate.check(ok, None)) is ok
    gate.commit(ok)
    again = asyncio.run(gate.check(rec("List three famous bridges in Europe and their countries.", "t3"), None))
    assert isinstance(again, Rejection) and "pooled" in again.detail
    # a second instance of an accepted task shares its instruction: it passes
    sibling = rec("List three famous bridges in Europe and their cities.", "t2")
    assert asyncio.run(gate.check(sibling, None)) is sibling


def test_rouge_gate_prime_rebuilds_the_pool_on_resume():
    gate = SelfInstructRougeGate([], threshold=0.7)
    gate.prime([Record({"instruction": "Explain how rainbows form in simple words."}, {"task_id": "a"})])
    out = asyncio.run(gate.check(Record({"instruction": "Explain how rainbows form in simple terms."}, {"task_id": "b"}), None))
    assert isinstance(out, Rejection)


@pytest.mark.parametrize("inst,reason", [
    (Instance("", ""), "empty_output"),
    (Instance("hello", "   "), "empty_output"),
    (Instance("hello world", "hello world"), "output_equals_input"),
    (Instance("Translate:", "Bonjour"), "incomplete_colon"),
    (Instance("Bonjour", "The answer is:"), "incomplete_colon"),
])
def test_bad_instances(inst, reason):
    assert check_instance(inst).reason == reason


def test_good_instance():
    assert check_instance(Instance("", "Paris is the capital of France.")) is None
    assert check_instance(Instance("2 + 2", "4")) is None


def test_duplicate_instances_collapse():
    kept, dropped = filter_instances([Instance("a b", "c"), Instance("a b", "c"), Instance("d", "e")])
    assert kept == [Instance("a b", "c"), Instance("d", "e")]
    assert [v.reason for _, v in dropped] == ["duplicate_instance"]


def test_same_input_different_output_drops_the_task():
    kept, dropped = filter_instances([Instance("I loved it", "positive"), Instance("I loved it", "negative"),
                                      Instance("Awful", "negative")])
    assert kept == []
    assert {v.reason for _, v in dropped} == {"same_input_different_output"}


def test_empty_inputs_with_different_outputs_are_fine():
    kept, _ = filter_instances([Instance("", "A poem."), Instance("", "Another poem.")])
    assert len(kept) == 2


@pytest.mark.parametrize("text", ["#The Given Prompt#: write more", "Here is the rewritten prompt: do X",
                                  "Given prompt: explain", "#Rewritten Prompt#\nDo this", "the #Created Prompt# is"])
def test_copies_template_fails(text):
    assert copies_template(text).reason == "copies_template"


def test_copies_template_passes_clean_text():
    assert copies_template("Explain photosynthesis to a ten-year-old using a cooking analogy.") is None


def test_refusal_rule():
    assert is_refusal("Sorry, I cannot help with that.").reason == "refusal"
    assert is_refusal("I'm SORRY but no.").reason == "refusal"
    long = "Sorry for the long answer. " + "word " * 80
    assert is_refusal(long) is None  # 'sorry' but not short: not a refusal
    assert is_refusal("Here is a full answer without apology.") is None


def test_stopwords_only_rule():
    assert only_stopwords("").reason == "stopwords_only"
    assert only_stopwords("... !!! ,").reason == "stopwords_only"
    assert only_stopwords("It is what it is, and they were there.").reason == "stopwords_only"
    assert only_stopwords("It is raining.") is None


def test_no_information_gain_near_duplicate():
    parent = "Write a poem about the sea."
    assert no_information_gain(parent, "write a poem about the sea!").reason == "no_information_gain"
    assert no_information_gain(parent, "Write a poem about the sea, please.").reason == "no_information_gain"  # 'please' is no stop word but ROUGE high
    assert no_information_gain(parent, "Write the poem about a sea.").reason == "no_information_gain"
    assert no_information_gain(parent, "Write a poem about the sea in four rhyming lines that mention a lighthouse.") is None


def test_judge_answers():
    assert judge_says_equal("Equal").reason == "no_information_gain"
    assert judge_says_equal("Not Equal") is None
    assert judge_says_equal(None) is None
