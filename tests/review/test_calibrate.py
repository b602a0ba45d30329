"""Judge calibration: agreement, Cohen's kappa, confusion and best threshold against human verdicts in the store."""
from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from helpers.scripted_run import make_run
from synthloom.cli import app
from synthloom.runs import RunStore
from synthloom.records import Rejection
from synthloom.review.calibrate import agreement, best_threshold, calibrate
from synthloom.review.session import ReviewSession


def pairs(pa: int, pr: int, fa: int, fr: int) -> list[tuple[bool, bool]]:
    """(gate passed, human accepted) pairs with the given confusion counts."""
    return [(True, True)] * pa + [(True, False)] * pr + [(False, True)] * fa + [(False, False)] * fr


def test_cohens_kappa_on_known_tables():
    # the textbook table: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    a = agreement(pairs(20, 5, 10, 15))
    assert a["agreement"] == pytest.approx(0.7) and a["kappa"] == pytest.approx(0.4)
    assert a["confusion"] == {"pass_accept": 20, "pass_reject": 5, "fail_accept": 10, "fail_reject": 15}
    # a gate that passes everything agrees 90% with reviewers who accept 90%, yet tells nothing: kappa 0
    a = agreement(pairs(45, 5, 0, 0))
    assert a["agreement"] == pytest.approx(0.9) and a["kappa"] == pytest.approx(0.0)
    assert agreement(pairs(10, 0, 0, 10))["kappa"] == pytest.approx(1.0)
    assert agreement(pairs(0, 10, 10, 0))["kappa"] == pytest.approx(-1.0)
    # po = 0.7; pe = 0.6*0.7 + 0.4*0.3 = 0.54 -> kappa = 0.16/0.46
    assert agreement(pairs(5, 1, 2, 2))["kappa"] == pytest.approx(0.16 / 0.46)
    assert agreement(pairs(8, 0, 0, 0))["kappa"] is None  # one answer on both sides: undefined, not 1
    assert agreement([])["agreement"] is None


def test_best_threshold_finds_where_reviewers_draw_the_line():
    scored = [(1, False), (2, False), (3, False), (3, False), (4, True), (4, True), (5, True), (5, False)]
    best = best_threshold(scored, [1, 2, 3, 4, 5, 6], current=3)
    assert best["threshold"] == 4 and best["agreement"] == pytest.approx(7 / 8)
    # reviewers who reject most: keeping nothing (t=6) agrees on 9 of 10 but tells nothing (kappa 0);
    # t=5 agrees on 8 of 10 with kappa (0.8 - 0.66) / 0.34
    mostly_bad = [(5, True), (5, False), (5, False), (4, False), (3, False), (3, False), (2, False), (2, False),
                  (1, False), (1, False)]
    best = best_threshold(mostly_bad, [1, 2, 3, 4, 5, 6], current=3)
    assert best["threshold"] == 5 and best["kappa"] == pytest.approx(0.14 / 0.34)
    assert agreement([(s >= 6, h) for s, h in mostly_bad])["agreement"] == pytest.approx(0.9)
    # a tie goes to the threshold nearest the current one
    assert best_threshold([(2, True), (4, True)], [1, 2, 3], current=3)["threshold"] == 2


def _verdicts_for(run_dir, rule) -> ReviewSession:
    """Review every accepted record and every rejected candidate, deciding by `rule(item) -> verdict`."""
    session = ReviewSession(run_dir, 100, rejected=100)
    for item in session.page_items():
        session.save(item["id"], rule(item), "wrong facts" if rule(item) == "reject" else "", "")
    return session


def test_calibrate_a_scripted_run_against_constructed_verdicts(tmp_path):
    run_dir = make_run(tmp_path)
    # reviewers reject the low-score judge reject, one accepted record, and every dedup/filter rejection;
    # the judge passed the accepted one (score 4), so the judge's table is pa=7 pr=1 fa=0 fr=1 (+ label mismatch)
    first_accepted = RunStore(run_dir / "store.sqlite").accepted_records()[0].id
    session = _verdicts_for(run_dir, lambda it: "reject" if it["id"] == first_accepted or it["kind"] == "rejected"
                            else "accept")
    session.close()
    cal = calibrate(run_dir, min_agreement=0.9)
    judge = cal["gates"]["judge"]
    # judge scored 8 accepted (all 4) + the low_score reject (2) + the label mismatch (4): 10 verdicts
    assert judge["n"] == 10
    assert judge["confusion"] == {"pass_accept": 7, "pass_reject": 2, "fail_accept": 0, "fail_reject": 1}
    po, pe = 0.8, (9 / 10) * (7 / 10) + (1 / 10) * (3 / 10)
    assert judge["agreement"] == pytest.approx(po) and judge["kappa"] == pytest.approx((po - pe) / (1 - pe))
    assert judge["flagged"]  # 80% < 90%
    assert judge["threshold"] == 3 and judge["kept_now"] == 9 and judge["candidates"] == 10
    assert judge["best"]["threshold"] == 3 and judge["best"]["kept"] == 9
    label = cal["gates"]["label"]
    assert label["confusion"] == {"pass_accept": 7, "pass_reject": 1, "fail_accept": 0, "fail_reject": 1}
    assert cal["note"] is None  # rejected candidates were reviewed


def test_report_gets_a_human_review_section_and_cli_prints_calibration(tmp_path):
    from synthloom.export.report import write_report

    run_dir = make_run(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["calibrate", str(run_dir)])
    assert res.exit_code == 2 and "no accept/reject verdicts" in res.output and "synthloom review" in res.output
    session = _verdicts_for(run_dir, lambda it: "accept" if it["gates"].get("judge", {}).get("passed") else "reject")
    session.close()
    res = runner.invoke(app, ["calibrate", str(run_dir), "--json"])
    assert res.exit_code == 0, res.output
    cal = json.loads(res.output)
    assert cal["gates"]["judge"]["agreement"] == 1.0 and not cal["gates"]["judge"]["flagged"]
    res = runner.invoke(app, ["calibrate", str(run_dir), "--min-agreement", "0.95"])
    assert res.exit_code == 0 and "judge" in res.output and "flagged (agreement below 95%): label" in res.output
    md = write_report(run_dir, embedder=None, min_agreement=0.95)["markdown"].read_text()
    section = md[md.index("## Human review"):]
    assert "Reviewers accepted 8 of 8 sampled accepted records: precision **100%**" in section
    assert "| judge | 10 | 100% | 1.00 |" in section and "| label **flagged** | 9 | 89% |" in section
    assert "wrong facts" in section


def _empty_run(tmp_path):
    run_dir = tmp_path / "empty.run"
    with RunStore(run_dir / "store.sqlite") as store:
        store.begin_run("r1", "empty", {"name": "empty", "quality": []}, {})
        store.commit_batch("r1", [], [(0, [], [Rejection("parse", "invalid_json", "not JSON", data=None, raw="x")])], {})
        store.end_run("r1", "incomplete", 1.0)
    return run_dir


def test_review_clear_messages(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["review", str(_empty_run(tmp_path)), "--no-open"])
    assert res.exit_code == 2 and "no accepted records to review" in res.output
    res = runner.invoke(app, ["review", str(tmp_path / "nowhere"), "--no-open"])
    assert res.exit_code == 2 and "no store.sqlite here" in res.output
    run_dir = make_run(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(app, ["review", str(run_dir), "--no-open", "--port", str(port)])
    assert res.exit_code == 2 and f"port {port} on 127.0.0.1 is in use" in res.output and "--port" in res.output
    res = runner.invoke(app, ["review", str(run_dir), "--no-open", "-n", "0"])
    assert res.exit_code == 2 and "nothing to review" in res.output


def test_verdicts_are_checked_and_kept_in_the_store(tmp_path):
    from synthloom.errors import UsageError

    run_dir = make_run(tmp_path)
    s = ReviewSession(run_dir, 100)
    assert len(s.ids) == 8  # a sample larger than the run is the whole run
    with pytest.raises(UsageError, match="verdict must be one of"):
        s.save(s.ids[0], "maybe")
    with pytest.raises(UsageError, match="not in this review's sample"):
        s.save("nope", "accept")
    s.save(s.ids[0], "reject", "off task", "  <b>meh</b> ")
    s.save(s.ids[1], "skip")
    s.close()
    again = ReviewSession(run_dir, 100)  # a new session (a restarted server) over the same run
    assert again.ids == s.ids and again.first_open() == 2
    assert again.verdicts()[s.ids[0]] == {**again.verdicts()[s.ids[0]], "verdict": "reject", "reason": "off task",
                                          "note": "<b>meh</b>"}
    summ = again.summary()
    assert summ["overall"]["reviewed"] == 1 and summ["overall"]["precision"] == 0 and summ["skipped"] == 1
    assert summ["reasons"] == {"off task": 1}
    again.close()


def test_gate_signals_read_judge_label_and_support_from_lineage():
    from synthloom.review.items import gate_signals

    recipe = {"quality": [{"gate": "judge", "threshold": 4}]}
    s = gate_signals({"scores": {"judge": 3, "label_agrees": False, "label_predicted": "neg"},
                      "judge": {"rationale": "bland"}}, recipe)
    assert s["judge"]["passed"] is False and s["judge"]["threshold"] == 4 and s["judge"]["rationale"] == "bland"
    assert s["label"] == {**s["label"], "passed": False, "shown": "disagrees: predicted 'neg'"}
    # support: the gate's own score, its rejection, or the qa technique's built-in judge having passed
    assert gate_signals({"scores": {"support": "yes"}}, {})["support"]["passed"] is True
    unsupported = Rejection("judge", "unsupported", "the judge found the answer not supported", data={"q": 1})
    assert gate_signals({}, {}, unsupported)["support"]["passed"] is False
    assert gate_signals({"kind": "factual", "judge": None}, {})["support"]["passed"] is True
    assert "support" not in gate_signals({"kind": "unanswerable", "judge": None}, {})
    assert gate_signals({"kind": "unanswerable", "judge": None}, {})["unanswerable"]["passed"] is True
    answered = Rejection("judge", "answerable", "the judge found the answer in kb#2", data={"q": 1})
    assert gate_signals({"kind": "unanswerable"}, {}, answered)["unanswerable"]["passed"] is False
    assert gate_signals({"scores": {"toxic_free": True}}, {})["toxic_free"]["passed"] is True  # a later gate's yes/no
