"""Planted contamination for `gate: decontaminate`, in domains the project never used (canal
navigation, bookbinding): the benchmarks are examples/decontaminate/canal-quiz.jsonl and
bindery-quiz.csv. Every benchmark question appears in five guises:

- verbatim: the question as it is;
- embedded: the question inside a longer request of someone else's words;
- edited: one word in the middle changed, which leaves no 13-gram in common with a 25-word question;
- reworded: the same question, written anew (PARAPHRASES, by hand);
- distinct: a different question on the same topic, which must be kept (DISTINCT, by hand).

Shared by tests/quality/test_decontaminate.py and benchmarks/decontaminate_index.py.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CANAL = ROOT / "examples" / "decontaminate" / "canal-quiz.jsonl"
BINDERY = ROOT / "examples" / "decontaminate" / "bindery-quiz.csv"
# benchmarks as a recipe names them: the question is what a teacher model might reproduce
BENCHMARKS = [{"path": str(CANAL), "fields": ["question"]}, {"path": str(BINDERY), "fields": ["question"]}]

PARAPHRASES = {
    "cq-01": "How much water, in cubic metres, does it take to raise the level by 1.8 m in a lock chamber measuring 22 m by 2.1 m when a narrowboat goes through?",
    "cq-02": "Going up through a lock, why do you have to shut the lower gates and the lower paddles before you open the upper paddles?",
    "cq-03": "In a staircase of locks, adjacent chambers have a common gate. Why is that, and what goes wrong when the crew drains the chambers in the wrong order?",
    "cq-04": "On UK canals, what is meant by a winding hole, and why do boats longer than the width of the canal need one?",
    "cq-05": "Why could one towpath horse haul a barge loaded with 30 tonnes at a walking pace but only carry about an eighth of a tonne on its back?",
    "cq-06": "Who was the engineer behind the Pontcysyllte Aqueduct, and what is the trough that carries the canal over the Dee valley made of?",
    "cq-07": "A narrowboat covers 14 miles with 9 locks on the way; a mile takes 20 minutes and a lock 12 minutes. How many hours and minutes does the journey take?",
    "cq-08": "What is a lock side pond for, and about how much water does it save each time a boat passes through?",
    "cq-09": "What are stop planks for, and why are they kept in grooved racks next to locks and bridges on a canal?",
    "cq-10": "How does an inclined plane move boats from one canal level to another without locks?",
    "cq-11": "A 3 km stretch of canal, 12 m wide, drops 2 cm every time the lock at its end is used. After how many lockages has the water fallen by 30 cm?",
    "cq-12": "What is the job of puddle clay in a canal bed, and how did navvies put it down?",
    "bb-01": "In hand bookbinding, why must the paper grain run parallel to the spine?",
    "bb-02": "What is a kettle stitch, and at what points along a signature's fold is it sewn?",
    "bb-03": "A single sheet folded in octavo makes a signature of how many pages?",
    "bb-04": "When rounding and backing a text block, what is the backing hammer used for?",
    "bb-05": "When mending an old book, why do conservators choose wheat starch paste over PVA glue?",
    "bb-06": "Why does a binder leave a newly glued book pressed between boards overnight?",
}

DISTINCT = {
    "cq-01": "A lock chamber holds 180 cubic metres and its paddles let in 1.5 cubic metres per second. How long does it take to fill?",
    "cq-02": "When going downhill through a lock, in what order should a crew open the bottom paddles and the bottom gates?",
    "cq-03": "Why do staircase locks often have a lock keeper on duty while ordinary single locks do not?",
    "cq-04": "How can the crew of a 60-foot narrowboat turn it round at a canal junction?",
    "cq-05": "Why were towpaths built on only one side of most canals, and what happened where the towpath changed sides?",
    "cq-06": "How tall is the Pontcysyllte Aqueduct above the River Dee, and how many stone piers hold it up?",
    "cq-07": "A boat averages 3 miles per hour. How many miles can it cover in a 6-hour day if it also has to pass 10 locks that take 15 minutes each?",
    "cq-08": "Why do some canals have a back pump at the bottom of a lock flight?",
    "cq-09": "What should you do if you see water pouring through a breach in a canal embankment?",
    "cq-10": "How does a boat lift such as the Anderton Boat Lift raise boats between a river and a canal?",
    "cq-11": "A canal pound 2 kilometres long and 10 metres wide is topped up by a feeder that brings 0.5 cubic metres per second. How long does it take to raise the level by 5 centimetres?",
    "cq-12": "Why do canal banks sometimes leak where tree roots or burrowing animals have got into them?",
    "bb-01": "How can you test which way the grain runs in a sheet of paper before folding it?",
    "bb-02": "What thread is best for sewing signatures, linen or cotton, and why?",
    "bb-03": "How many leaves does a quarto signature have, and how many times is its sheet folded?",
    "bb-04": "Why is the spine of a text block glued up before it is rounded?",
    "bb-05": "How do you cook wheat starch paste, and how long does it keep?",
    "bb-06": "What kind of press does a beginner need for bookbinding, and can a stack of heavy books replace it?",
}

CONTAMINATED = ("verbatim", "embedded", "edited", "reworded")


def questions() -> dict[str, str]:
    """Benchmark item id -> its question."""
    out = {}
    for line in CANAL.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out[row["id"]] = row["question"]
    with BINDERY.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["id"]] = row["question"]
    return out


def embedded(question: str) -> str:
    return ("Our club is putting together a practice sheet for new members, and I would like a worked answer "
            f"for this one, step by step: {question} Please keep the explanation friendly and under 150 words.")


def edited(question: str) -> str:
    """The question with the word a third of the way in replaced (no 13-gram survives in a 25-word question)."""
    words = question.split()
    i = len(words) // 3
    words[i] = "nowadays" if words[i].lower() != "nowadays" else "today"
    return " ".join(words)


def planted() -> list[dict]:
    """Every case as {"instruction", "case", "item"}: 18 items x (4 contaminated guises + 1 distinct)."""
    rows = []
    for item, q in questions().items():
        for case, text in (("verbatim", q), ("embedded", embedded(q)), ("edited", edited(q)),
                           ("reworded", PARAPHRASES[item]), ("distinct", DISTINCT[item])):
            rows.append({"instruction": text, "case": case, "item": item})
    return rows
