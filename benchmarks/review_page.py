"""How the review page and calibration behave on a real run, and how fast the page answers.

    python benchmarks/review_page.py RUN_DIR [--verdicts FILE] [--sample N] [--rejected N]
    python benchmarks/review_page.py --synthetic 2000 --sample 500     # a made-up run, for load times

With --verdicts (JSONL rows {"id", "verdict", "reason", "note"}), the verdicts are written to the
run store first, through the same ReviewSession.save the page uses, and the calibration of every
gate against them is printed. Timing: the server is started in-process on a free port; /api/state
(the whole sample as JSON) and POST /api/verdict are timed over real HTTP on loopback.
With chromium at /usr/bin/chromium and playwright installed, the time until the page is ready
(all records loaded, the first one drawn) is measured in headless chromium too.
Results: docs/benchmarks_review.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from synthloom.review.calibrate import calibrate, calibration_markdown  # noqa: E402
from synthloom.review.server import ReviewServer  # noqa: E402
from synthloom.review.session import ReviewSession, summarize_verdicts  # noqa: E402


async def timings(session: ReviewSession, rounds: int = 20) -> dict:
    server = ReviewServer(session)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    headers = {"X-Review-Token": server.token}
    out: dict = {}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            loads, size = [], 0
            for _ in range(rounds):
                t = time.perf_counter()
                async with http.get(f"{base}/api/state") as r:
                    size = len(await r.read())
                loads.append(time.perf_counter() - t)
            item = session.ids[0]
            saves = []
            for _ in range(rounds):
                t = time.perf_counter()
                async with http.post(f"{base}/api/verdict", json={"id": item, "verdict": "skip"}) as r:
                    assert r.status == 200, await r.text()
                saves.append(time.perf_counter() - t)
            out = {"items": len(session.ids), "state_bytes": size,
                   "state_ms_median": 1000 * statistics.median(loads), "verdict_ms_median": 1000 * statistics.median(saves)}
    finally:
        await server.stop()
    return out


def synthetic_run(root: Path, n: int) -> Path:
    """A run store with n accepted records of about 1 KB each, with judge scores (no model involved)."""
    import random

    from synthloom.runs import RunStore
    from synthloom.records import Record, Rejection

    rng = random.Random(0)
    words = "invoice refund charge card plan renewal account billing March twice support cancel".split()
    run_dir = root / "synthetic.run"
    recipe = {"name": "synthetic", "quality": [{"gate": "judge", "threshold": 3}]}
    with RunStore(run_dir / "store.sqlite") as store:
        store.begin_run("r", "synthetic", recipe, {})
        recs = [Record({"subject": f"ticket {i}", "body": " ".join(rng.choice(words) for _ in range(160))},
                       {"model": "m", "attributes": {"tone": rng.choice(["angry", "polite"])},
                        "scores": {"judge": rng.randint(3, 5)}, "judge": {"score": 4, "rationale": "fine"}})
                for i in range(n)]
        rej = [Rejection("judge", "low_score", "scored 1", data={"subject": "x", "body": "y " * 50},
                         meta={"scores": {"judge": 1}}) for _ in range(n // 4)]
        store.commit_slot("r", 0, recs, rej)
    return run_dir


def browser_ready_ms(url: str, rounds: int = 3) -> float | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    times = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = b.new_page()
        for _ in range(rounds):
            t = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            times.append(time.perf_counter() - t)
        b.close()
    return 1000 * statistics.median(times)


def browser_timing(session: ReviewSession) -> float | None:
    """Serve in a thread (Playwright's sync API owns this thread's event loop) and load the page."""
    import threading

    loop = asyncio.new_event_loop()
    server = ReviewServer(session)
    url = loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        return browser_ready_ms(url)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(server.stop())
        loop.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--synthetic", type=int, default=0, help="time a made-up run of this many records instead")
    ap.add_argument("--verdicts", type=Path)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--rejected", type=int, default=20)
    args = ap.parse_args()
    if args.synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = synthetic_run(Path(tmp), args.synthetic)
            session = ReviewSession(run_dir, args.sample, rejected=args.rejected)
            res = asyncio.run(timings(session))
            res["browser_ready_ms_median"] = browser_timing(session)
            session.close()
            print(json.dumps(res, indent=1))
        return
    session = ReviewSession(args.run_dir, args.sample, rejected=args.rejected)
    if args.verdicts:
        for line in args.verdicts.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row["id"] in session.ids:
                    session.save(row["id"], row["verdict"], row.get("reason", ""), row.get("note", ""))
                else:
                    print(f"skipped {row['id']}: not in this sample", file=sys.stderr)
    summary = summarize_verdicts(session.items, session.verdicts())
    session.close()
    with tempfile.TemporaryDirectory() as tmp:  # time the writes on a copy: the reviewers' verdicts stay as they are
        copy = Path(tmp) / "run"
        shutil.copytree(args.run_dir, copy)
        scratch = ReviewSession(copy, args.sample, rejected=args.rejected)
        print(json.dumps(asyncio.run(timings(scratch)), indent=1))
        scratch.close()
    cal = calibrate(args.run_dir)
    print("\n".join(calibration_markdown(cal, summary)))


if __name__ == "__main__":
    main()
