"""The review page in a real headless browser (Debian's chromium, driven by Playwright; no browser download).

The server is the real `synthloom review` command in a subprocess, so killing it
is what a user does with Ctrl-C or a closed terminal.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import scripted_run
from synthloom.runs import RunStore
from synthloom.records import Record, Rejection

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SYNTHLOOM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no chromium at {CHROMIUM} (apt-get install chromium, or set SYNTHLOOM_CHROMIUM)")


def make_run(tmp: Path) -> Path:
    """The scripted run, made in a thread: Playwright's sync API keeps an event loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(scripted_run.make_run, tmp).result()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install 'synthloom[review]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


class Server:
    """`synthloom review RUN_DIR ...` in a subprocess; its printed address."""

    def __init__(self, run_dir: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        env.pop("DISPLAY", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "synthloom", "review", str(run_dir), "--no-open", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.output = ""
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output += line
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
            if m:
                self.base, self.token = m.group(1), m.group(2)
                self.url = f"{self.base}/?token={self.token}"
                return
        self.proc.kill()
        raise AssertionError(f"no address printed: {self.output}{self.proc.stderr.read()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def servers():
    started: list[Server] = []

    def start(run_dir: Path, *args: str) -> Server:
        s = Server(run_dir, *args)
        started.append(s)
        return s
    yield start
    for s in started:
        if s.proc.poll() is None:
            s.kill()


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def open_page(browser, url: str, **context):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, **context)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.errors.append("dialog: " + d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    return page


def test_verdicts_by_keyboard_survive_reload_and_a_killed_server(browser, servers, tmp_path):
    run_dir = make_run(tmp_path)
    srv = servers(run_dir, "-n", "20", "--rejected", "2", "--seed", "1")
    assert "asked for 20 records, the run has 8 accepted: reviewing all 8" in srv.proc.stderr.readline()
    page = open_page(browser, srv.url)
    assert page.inner_text("#pos") == "record 1 of 10" and page.inner_text("#done") == "0 of 10 reviewed"
    first_id = page.inner_text("#record").split("id ", 1)[1].split()[0]
    page.keyboard.press("a")
    expect(page.locator("#pos")).to_have_text("record 2 of 10")
    page.keyboard.press("3")  # reason 3 of the short list: wrong label
    page.keyboard.press("n")
    page.keyboard.type("says pos, reads neg")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#pos")).to_have_text("record 3 of 10")
    page.keyboard.press("s")
    expect(page.locator("#done")).to_have_text("3 of 10 reviewed")
    assert page.eval_on_selector("#barfill", "e => e.style.width") == "30%"

    with RunStore(run_dir / "store.sqlite") as store:  # saved at once, in the run store
        saved = store.verdicts()
    assert [v["verdict"] for v in saved.values()] == ["accept", "reject", "skip"]
    assert list(saved)[0] == first_id
    assert list(saved.values())[1]["reason"] == "wrong label" and list(saved.values())[1]["note"] == "says pos, reads neg"

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#pos") == "record 4 of 10" and page.inner_text("#done") == "3 of 10 reviewed"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert "your verdict: reject" in page.inner_text("#record")
    assert page.input_value("#note") == "says pos, reads neg"
    assert page.eval_on_selector("#reasons button.on", "e => e.textContent") == "3 wrong label"
    page.click("#note")  # a note edited after the verdict is saved when the reviewer moves on
    page.keyboard.type(" (sarcasm?)")
    page.click("#next")
    expect(page.locator("#pos")).to_have_text("record 3 of 10")
    expect(page.locator("#status")).to_have_text("saved ✓")

    with RunStore(run_dir / "store.sqlite") as store:
        assert store.verdicts()[list(saved)[1]]["note"] == "says pos, reads neg (sarcasm?)"
    srv.kill()  # no goodbye: verdicts must already be in the store
    srv2 = servers(run_dir, "-n", "20", "--rejected", "2", "--seed", "1")
    assert "(3 already reviewed)" in srv2.output
    page2 = open_page(browser, srv2.url)
    assert page2.inner_text("#pos") == "record 4 of 10" and page2.inner_text("#done") == "3 of 10 reviewed"
    page2.click("#b-accept")  # a click is a verdict too
    expect(page2.locator("#done")).to_have_text("4 of 10 reviewed")
    page2.keyboard.press("v")
    page2.wait_for_selector("#summary .big")
    summary = page2.inner_text("#summary")
    assert "2 of 2 accepted" in summary or "of 2 accepted" in summary
    assert "BY MODEL" in summary.upper() and "fake:scripted" in summary
    assert page.errors == [] and page2.errors == []


PAYLOADS = ['<script>window.__xss = 1; alert("xss")</script>', '<img src=x onerror="window.__xss = 2; alert(2)">',
            '"><svg onload="window.__xss = 3">', "</script><script>window.__xss = 4</script>",
            "<a href=\"javascript:window.__xss=5\">click</a>"]


def _hostile_run(tmp_path: Path) -> Path:
    """A run whose records, keys, lineage, gate rationales and rejection reasons are all markup."""
    run_dir = tmp_path / "xss.run"
    p = " ".join(PAYLOADS)
    recipe = {"name": "<img src=x onerror=window.__xss=6>", "quality": [{"gate": "judge", "threshold": 3}],
              "generate": {"technique": "qa"}}
    recs = [Record({"question": f"q{i} {p}", "answer": p, "evidence": [PAYLOADS[i % len(PAYLOADS)]],
                    p: {"nested": p, "messages": [{"role": "<b>user</b>", "content": p}]},
                    "messages": [{"role": p, "content": p}, {"role": "assistant", "content": PAYLOADS[1]}]},
                   {"model": p, "attributes": {p: p}, "contexts": [f"before {PAYLOADS[i % len(PAYLOADS)]} after {p}"],
                    "source_ids": [p], "scores": {"judge": 4, "label_agrees": True, "label_predicted": p},
                    "judge": {"score": 4, "rationale": p}})
            for i in range(3)]
    rej = Rejection("judge", "low_score", p, data={"text": p}, meta={"scores": {"judge": 1}, "judge": {"rationale": p}})
    with RunStore(run_dir / "store.sqlite") as store:
        store.begin_run("r1", recipe["name"], recipe, {})
        store.commit_batch("r1", [], [(0, recs, [rej])], {})
        store.end_run("r1", "complete", 1.0)
    return run_dir


def test_markup_in_records_is_shown_as_text_and_never_runs(browser, servers, tmp_path):
    run_dir = _hostile_run(tmp_path)
    srv = servers(run_dir, "-n", "3", "--rejected", "1")
    # bypass_csp: the page's own escaping is under test here, not the Content-Security-Policy behind it
    page = open_page(browser, srv.url, bypass_csp=True)
    for step in range(4):
        text = page.inner_text("#record")
        assert PAYLOADS[1] in text and "<script>window.__xss = 1" in text
        assert page.eval_on_selector_all("#record img, #record script, #record svg, #record a, #record b", "els => els.length") == 0
        if step == 0:
            assert page.eval_on_selector_all("#record mark", "els => els.length") >= 1  # cited passage highlighted
        page.keyboard.press("n")
        page.keyboard.type(PAYLOADS[step % len(PAYLOADS)])
        page.keyboard.press("Escape")
        page.keyboard.press("r")
        expect(page.locator("#done")).to_have_text(f"{step + 1} of 4 reviewed")
    page.keyboard.press("v")
    page.wait_for_selector("#summary .big")
    assert PAYLOADS[0] in page.inner_text("#summary")
    assert page.eval_on_selector_all("#summary img, #summary script, #summary svg, #summary a", "els => els.length") == 0
    assert page.title().startswith("review: <img")
    page.wait_for_timeout(300)  # give an onerror handler its chance
    assert page.evaluate("window.__xss") is None
    assert page.errors == []

    with urllib.request.urlopen(srv.url) as resp:  # and the policy behind it: only the page's own script runs
        csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'nonce-" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def _call(url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_token_host_and_cross_origin_writes(browser, servers, tmp_path):
    run_dir = make_run(tmp_path)
    srv = servers(run_dir, "-n", "3", "--blind")
    good = {"X-Review-Token": srv.token, "Content-Type": "application/json"}
    status, body = _call(f"{srv.base}/api/state", headers={"X-Review-Token": srv.token})
    item = json.loads(body)["items"][0]["id"]
    verdict = json.dumps({"id": item, "verdict": "accept"}).encode()
    assert _call(f"{srv.base}/")[0] == 403
    assert _call(f"{srv.base}/?token=wrong")[0] == 403
    assert _call(f"{srv.base}/api/state")[0] == 403
    assert _call(srv.url, headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    status, body = _call(f"{srv.base}/api/verdict", data=verdict, headers={**good, "Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in body
    assert _call(f"{srv.base}/api/verdict", data=verdict, headers={**good, "Sec-Fetch-Site": "cross-site"})[0] == 403
    form = {"X-Review-Token": srv.token, "Content-Type": "application/x-www-form-urlencoded"}
    assert _call(f"{srv.base}/api/verdict", data=b"id=x&verdict=accept", headers=form)[0] == 415
    with RunStore(run_dir / "store.sqlite") as store:
        assert store.verdicts() == {}
    status, body = _call(f"{srv.base}/api/verdict", data=verdict, headers={**good, "Origin": srv.base})
    assert status == 200 and json.loads(body)["verdict"] == "accept"

    # a page on another origin that knows the token still cannot write: the browser sends its Origin,
    # and a JSON post with the token header needs a preflight the server does not grant
    page = browser.new_page()
    page.route("http://evil.example/", lambda route: route.fulfill(body="<p>elsewhere</p>", content_type="text/html"))
    page.goto("http://evil.example/")
    outcomes = page.evaluate("""async ([base, token, id]) => {
        const body = JSON.stringify({id, verdict: 'reject'});
        const tries = [{mode: 'no-cors', headers: {'Content-Type': 'text/plain'}},
                       {mode: 'cors', headers: {'Content-Type': 'application/json', 'X-Review-Token': token}}];
        const out = [];
        for (const t of tries) {
            try { const r = await fetch(base + '/api/verdict', {method: 'POST', body, ...t}); out.push(r.type + ' ' + r.status); }
            catch (e) { out.push('blocked'); }
        }
        return out;
    }""", [srv.base, srv.token, item])
    assert outcomes[1] == "blocked", outcomes
    with RunStore(run_dir / "store.sqlite") as store:
        assert store.verdicts()[item]["verdict"] == "accept", outcomes

    # --blind: gate scores and accepted/rejected stay hidden until the reviewer decides
    page = open_page(browser, srv.url)
    assert page.inner_text("#pos") == "record 2 of 3"
    text = page.inner_text("#record")
    assert "hidden until you give a verdict" in text and "accepted record" not in text and "4/5" not in text
    page.keyboard.press("ArrowLeft")
    text = page.inner_text("#record")
    assert "accepted record" in text and "4/5" in text  # item 1 has a verdict now
    page.close()


def test_screenshot(browser, servers, tmp_path):
    """A screenshot of the page; SYNTHLOOM_SCREENSHOTS=1 writes it to docs/images/review-page.png."""
    run_dir = make_run(tmp_path)
    srv = servers(run_dir, "-n", "8", "--rejected", "2", "--seed", "5")
    page = open_page(browser, srv.url)
    page.keyboard.press("a")
    expect(page.locator("#done")).to_have_text("1 of 10 reviewed")
    page.keyboard.press("ArrowLeft")
    shot = tmp_path / "review-page.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("SYNTHLOOM_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "images" / "review-page.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def _string_run(tmp: Path) -> Path:
    """A scripted run of a schema whose root is a string (a code with a pattern)."""
    from fakes import ScriptedLLM
    from synthloom.engine import run_recipe
    from synthloom.engine.recipe_file import recipe_from_dict

    codes = iter(["ABC-123", "KLM-999", "QRS-555"])
    data = {"name": "codes", "count": 3, "engine": {"seed": 0},
            "generate": {"technique": "schema", "schema": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"}}}
    run_recipe(recipe_from_dict(data, "test"), base_dir=tmp, output=tmp / "codes.jsonl",
               llm=ScriptedLLM(lambda req: json.dumps(next(codes))))
    return tmp / "codes.run"


def test_a_record_that_is_a_string_shows_as_one_value_not_its_characters(browser, servers, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        run_dir = pool.submit(_string_run, tmp_path).result()
    srv = servers(run_dir, "-n", "3", "--seed", "1")
    page = open_page(browser, srv.url)
    record = page.inner_text("#record")
    assert re.search(r"value\s+[A-Z]{3}-\d{3}", record), record
    assert page.locator("#record .field h3").all_inner_texts() == ["value"]
    assert not page.errors
