"""How the review page and calibration behave on a real run, and how fast the page answers.

    python benchmarks/review_page.py RUN_DIR [--verdicts FILE] [--sample N] [--rejected N]

With --verdicts (JSONL rows {"id", "verdict", "reason", "note"}), the verdicts are written to the
run store first, through the same ReviewSession.save the page uses, and the calibration of every
gate against them is printed. Timing: the server is started in-process on a free port; /api/state
(the whole sample as JSON) and POST /api/verdict are timed over real HTTP on loopback.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--verdicts", type=Path)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--rejected", type=int, default=20)
    args = ap.parse_args()
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
