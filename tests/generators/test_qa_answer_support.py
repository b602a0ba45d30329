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
    assert "Tools are booked for half a day" in spans  # two clauses: each a whole statement


@pytest.mark.parametrize("sentence", [
    # seen on the bundled model: "When do open sessions run on Tuesday and Thursday evenings?" -> "Open sessions run
    # on Tuesday"; "What time does the open session start?" -> "On Saturday from 10:00 to 14:00."
    "Open sessions run on Tuesday and Thursday evenings from 18:00 to 21:00, and on Saturday from 10:00 to 14:00.",
    "The pool opens at 7:00 on weekdays and at 9:00 on weekends.",
    "Dogs are welcome on the common but not inside the buildings.",
    "You can book a check-up by phone or through the online booking page.",
    # lists: "Loomcloud accepts Visa" names one card of three
    "Loomcloud accepts Visa, Mastercard and American Express cards.",
    "The launch driver carries a throw line, a first aid kit, and a radio.",
    "It includes 1 TB of storage per user, unlimited shared folders, and 90 days of version history.",
    "Membership costs 30 pounds a year, or 15 pounds for students.",
])
def test_an_answer_span_is_never_half_of_a_coordination(sentence):
    from synthloom.generators.qa import answer_spans

    assert answer_spans(sentence) == [sentence]


def test_a_clause_cut_keeps_its_coordinations_whole():
    from synthloom.generators.qa import answer_spans

    spans = answer_spans("Lessons run on Tuesday and Thursday evenings; beginners bring a towel and a padlock.")
    assert spans[1:] == ["Beginners bring a towel and a padlock.", "Lessons run on Tuesday and Thursday evenings"]
    # a relative clause is no answer of its own: it has no subject
    spans = answer_spans("Lessons take place in the stable boats, which are wider than racing boats.")
    assert spans == ["Lessons take place in the stable boats, which are wider than racing boats.",
                     "Lessons take place in the stable boats"]


def test_a_clause_is_not_offered_without_its_fronted_phrase():
    """Seen on the bundled model: "When does a coach sign off each rower?" -> "A coach signs off each rower as
    competent ...", the sentence's "After the course," left out; alone the clause says something else."""
    from synthloom.generators.qa import answer_spans

    sentence = "After the course, a coach signs off each rower as competent to take out a boat without supervision."
    assert answer_spans(sentence) == [sentence]
    sentence = "When you add a user in the middle of a billing period, Loomcloud charges a prorated amount."
    assert answer_spans(sentence) == [sentence, "When you add a user in the middle of a billing period"]


@pytest.mark.parametrize("question,answer,evidence", [
    # each seen accepted on the bundled model (docs/benchmarks_junk.md, the document form)
    ("What is a sky guide?", "A printed sky guide each season.",
     "Members receive a newsletter every month and a printed sky guide each season."),
    ("What is an induction evening?", "New members attend an induction evening on the first Monday of the month.",
     "New members attend an induction evening on the first Monday of the month."),
    ("What is the society's library of star atlases?",
     "The society's library of star atlases can be read in the meeting room",
     "The society's library of star atlases can be read in the meeting room but not taken home."),
    ("What are the six repair stands?", "During an open session you fix your own bike on one of six repair stands",
     "During an open session you fix your own bike on one of six repair stands, and a volunteer mechanic shows you how."),
    # the answer is another clause of the sentence that names the thing
    ("What is a repair stand?", "A volunteer mechanic shows you how.",
     "During an open session you fix your own bike on one of six repair stands, and a volunteer mechanic shows you how."),
    ("What's the workspace name?", "The workspace name becomes available to others.",
     "The workspace name becomes available to others."),
])
def test_a_what_is_question_needs_an_answer_that_says_what_it_is(question, answer, evidence):
    from synthloom.generators.qa_answer_support import undefined_term_problem

    problem = undefined_term_problem(question, answer, [evidence])
    assert problem is not None and problem[0] == "answer_does_not_define"


@pytest.mark.parametrize("question,answer,evidence", [
    ("What is the Spoke Shed?", "The Spoke Shed is a volunteer-run bike workshop behind the community hall.", None),
    ("What are stable boats?", "Stable boats are wider and harder to capsize than racing boats.", None),
    # an attribute of a thing, not the thing: the verb "costs" / "cost" does not name "the cost"
    ("What is the cost of membership?", "Membership costs 25 pounds a year and includes one free safety check.", None),
    ("What is the cost of a ticket?", "Tickets cost 6 pounds for adults.", None),
    ("What is the most I can be charged for one late item?", "Up to 5 dollars per item.",
     "Late items cost 25 cents per day, up to 5 dollars per item."),
    # not a thing: "allowed" is what the sentence says of dogs
    ("What is allowed on the common?", "Dogs are allowed on the common.", None),
    ("Who runs the museum cafe?", "The museum cafe is run by volunteers.", None),
])
def test_other_questions_pass_the_definition_check(question, answer, evidence):
    from synthloom.generators.qa_answer_support import undefined_term_problem

    assert undefined_term_problem(question, answer, [evidence or answer]) is None
