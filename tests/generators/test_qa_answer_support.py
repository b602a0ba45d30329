"""Answer support without a strong judge: an answer's numbers, names and words come from its evidence;
an unanswerable question asks about something the knowledge base never mentions."""
from __future__ import annotations

import pytest

from synthloom.generators.qa_answer_support import answer_support_problem, answerable_problem, kb_vocabulary

EVIDENCE = ["A second bike can be added for 12 dollars per day.", "Bikes are serviced every 30 days by Velo Care."]


@pytest.mark.parametrize("answer", [
    "Yes, a second bike can be added for 12 dollars per day.",
    "Every 30 days.",
    "Velo Care services the bikes.",
    "Refunds are paid to the original paym",  # word cut off: its stem is still in the evidence
])
def test_supported_answers_pass(answer):
    evidence = EVIDENCE + ["Refunds are paid to the original payment method."]
    assert answer_support_problem(answer, evidence) is None


@pytest.mark.parametrize("answer, why", [
    ("Yes: the second bike is a rental bike", "rental"),  # multi-hop answer its quotes do not support
    ("It costs 15 dollars per day.", "15"),  # a number the evidence does not state
    ("Bikes are serviced by Halfords.", "Halfords"),  # a name from nowhere
    ("The bike insurance covers theft and accidents.", "insurance"),
])
def test_unsupported_answers_fail(answer, why):
    problem = answer_support_problem(answer, EVIDENCE)
    assert problem is not None and problem[0] == "answer_not_in_evidence" and why in problem[1]


def test_unanswerable_questions_must_ask_about_something_the_kb_lacks():
    kb = kb_vocabulary(EVIDENCE)
    assert answerable_problem("How much does a second bike cost per day?", kb) is None  # 'cost' is absent
    assert answerable_problem("Can I pay for the bike with PayPal?", kb) is None
    problem = answerable_problem("How often are bikes serviced?", kb)
    assert problem is not None and problem[0] == "answerable" and "serviced" in problem[1]


def test_factual_answers_are_spans_of_their_evidence():
    from synthloom.generators.qa import answer_spans

    spans = answer_spans("Late items cost 25 cents per day, up to 5 dollars per item.")
    assert spans[0] == "Late items cost 25 cents per day, up to 5 dollars per item."
    assert "Up to 5 dollars per item." in spans and "Late items cost 25 cents per day" in spans
    for span in spans:  # every option is supported by the sentence it comes from
        assert answer_support_problem(span, ["Late items cost 25 cents per day, up to 5 dollars per item."]) is None


def test_a_question_must_share_a_key_term_with_its_evidence():
    from synthloom.generators.qa_answer_support import question_meets_evidence

    evidence = ["Loomcloud accepts Visa, Mastercard and American Express cards."]
    assert question_meets_evidence("Which cards can I pay with?", evidence)
    assert not question_meets_evidence("Was my bill automatically paid?", evidence)  # seen on the bundled model


def test_multi_hop_answers_are_spans_of_the_second_passage():
    from synthloom.generators.qa import multi_hop_answers

    second = ["Each 3D printer booking lasts at most 2 hours.", "Bookings open a day in advance, at 9:00."]
    answers = multi_hop_answers(["The Eastside branch has two 3D printers."], second)
    assert "No: each 3D printer booking lasts at most 2 hours." in answers
    assert all(answer_support_problem(a, second) is None for a in answers)


def test_a_sentence_wrapped_in_its_file_is_offered_whole():
    """Seen on a hard-wrapped Markdown knowledge base: the evidence (and a multi-hop answer) ended at
    the line break, "... the heaviest marrow, the longest"."""
    from synthloom.generators.qa import answer_spans
    from synthloom.sources.related import sentences

    text = ("## Show\n\nThe produce show follows in early September, with prizes for the heaviest marrow, the longest\n"
            "runner bean and the best jar of jam.\n\n- Entries close on 1 September.\n- Judging starts at 10:00.")
    found = sentences(text)
    assert found[0].endswith("the best jar of jam.") and found[0] in text  # whole, and still verbatim
    assert found[1:] == ["Entries close on 1 September.", "Judging starts at 10:00."][: len(found) - 1]
    assert "\n" not in answer_spans(found[0])[0]


def test_answer_spans_do_not_start_with_a_conjunction():
    from synthloom.generators.qa import answer_spans

    spans = answer_spans("Tools are booked for half a day, and the rotavator needs a 20 pound deposit.")
    assert "The rotavator needs a 20 pound deposit." in spans and not any(s.startswith("And ") for s in spans)
