"""A loopback stub of OpenAI's Files + Batches endpoints and Anthropic's Message Batches (aiohttp.web),
with live chat completions beside them, for the batch-API tests and benchmark.

Run: python batch_stub.py --port-file F [--delay S] [--fail-every N] [--malformed-every N]
                          [--expire-first K] [--cancel-first K] [--latency-ms MS]

Every answer is a ticket made from the request's seed (from a hash of the request when it has none),
the same live and in a batch, so a batch run and a live run of one recipe can be compared.
A batch ends `--delay` seconds after it was created (in_progress until then). Faults, each only the
first time a request is seen, so that its retry is answered:
  --fail-every N       a request whose hash % N == 0 is answered HTTP 500 (OpenAI: in the error file)
  --malformed-every N  ... its output line is cut in half (unreadable JSON)
  --expire-first K     the first K batches expire: their second half is answered `expired`
  --fail-batch-create K  the first K batch creates are answered 500 AFTER the batch was made (the client
                       must find it rather than create it again)
  --never-finish-first K  the first K batches never end unless cancelled (their window is --window seconds)
  --invalid-every N    a request whose hash % N == 0 is always answered with text that is not JSON
GET /stats -> {"submitted": request lines received in batches, "answered": successful answers,
"repeats": successful answers to a request answered before, "batches": created, "live": live answers,
"polls": status reads}.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time

from aiohttp import web

STATE: dict = {"files": {}, "batches": {}, "seen": {}, "answered": {}, "order": [],
               "stats": {"submitted": 0, "answered": 0, "repeats": 0, "batches": 0, "live": 0, "polls": 0,
                         "uploads": 0}}


def _hash(obj) -> int:
    return int(hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12], 16)


def _record(body: dict) -> dict:
    seed = body.get("seed")
    if seed is None:
        seed = _hash(body.get("messages"))
    seed %= 2**63
    return {"subject": f"Billing ticket {seed}", "priority": 1 + seed % 3}


def _count_answer(key) -> None:
    """One successful answer to the request `key` (a batch line's custom_id, a live body's hash)."""
    s = STATE["stats"]
    h = key
    s["answered"] += 1
    s["repeats"] += STATE["answered"].get(h, 0) > 0
    STATE["answered"][h] = STATE["answered"].get(h, 0) + 1


def _content(body: dict) -> str:
    every = STATE["opts"].invalid_every
    if every and _hash(body) % every == 0:
        return "Sorry, I cannot help with that."
    return json.dumps(_record(body))


def _chat(body: dict) -> dict:
    return {"object": "chat.completion", "model": body.get("model"),
            "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": _content(body)}}]}


def _first_time(kind: str, body: dict, every: int) -> bool:
    """True the first time a request with hash % every == 0 meets this fault."""
    if not every:
        return False
    h = _hash(body)
    key = (kind, h)
    if h % every or key in STATE["seen"]:
        return False
    STATE["seen"][key] = True
    return True


async def live(request: web.Request) -> web.Response:
    body = await request.json()
    await asyncio.sleep(request.app["opts"].latency_ms / 1000)
    STATE["stats"]["live"] += 1
    _count_answer(_hash(body))
    return web.json_response(_chat(body))


# -- OpenAI: files and batches --------------------------------------------------------------------

async def upload(request: web.Request) -> web.Response:
    form = await request.post()
    f = form["file"]
    data = f.file.read() if hasattr(f, "file") else bytes(f)
    fid = f"file-{len(STATE['files']) + 1}"
    STATE["files"][fid] = data
    STATE["stats"]["uploads"] += 1
    return web.json_response({"id": fid, "object": "file", "purpose": form.get("purpose"), "bytes": len(data)})


async def file_content(request: web.Request) -> web.Response:
    fid = request.match_info["fid"]
    if fid not in STATE["files"]:
        return web.json_response({"error": {"message": "no such file"}}, status=404)
    return web.Response(body=STATE["files"][fid], content_type="application/jsonl")


def _new_batch(kind: str, lines: list[dict], meta: dict) -> dict:
    opts = STATE["opts"]
    s = STATE["stats"]
    s["batches"] += 1
    s["submitted"] += len(lines)
    n = s["batches"]
    bid = f"batch_{n:05d}" if kind == "openai" else f"msgbatch_{n:05d}"
    b = {"id": bid, "kind": kind, "lines": lines, "created": time.time(), "meta": meta,
         "expire": n <= opts.expire_first, "cancelled": False, "done": None,
         "never": n <= opts.never_finish_first, "window": opts.window}
    STATE["batches"][bid] = b
    STATE["order"].append(bid)
    return b


async def create_batch(request: web.Request) -> web.Response:
    body = await request.json()
    raw = STATE["files"].get(body.get("input_file_id"))
    if raw is None:
        return web.json_response({"error": {"message": "input_file_id not found"}}, status=400)
    lines = [json.loads(l) for l in raw.splitlines() if l.strip()]
    b = _new_batch("openai", lines, {"input_file_id": body["input_file_id"], "metadata": body.get("metadata") or {},
                                     "endpoint": body.get("endpoint")})
    opts = STATE["opts"]
    if STATE["stats"]["batches"] <= opts.fail_batch_create:
        return web.json_response({"error": {"message": "internal error (the batch was made)"}}, status=500)
    return web.json_response(_openai_view(b))


def _finish(b: dict) -> None:
    """Make a batch's answers once its time has come (or it was cancelled)."""
    opts = STATE["opts"]
    if b["done"] is not None or (not b["cancelled"] and (b["never"] or time.time() - b["created"] < opts.delay)):
        return
    out, err = [], []
    half = len(b["lines"]) // 2
    for i, line in enumerate(b["lines"]):
        cid = line["custom_id"]
        body = line.get("body") or line.get("params")
        if b["expire"] and i >= half:
            err.append((cid, "expired", None))
        elif b["cancelled"]:
            err.append((cid, "cancelled", None))
        elif _first_time("fail", body, opts.fail_every):
            err.append((cid, "failed", None))
        else:
            bad = _first_time("malformed", body, opts.malformed_every)
            if not bad:  # an unreadable answer is no answer: the client asks again
                _count_answer(cid)
            out.append((cid, body, bad))
    b["done"] = (out, err)


def _openai_view(b: dict) -> dict:
    _finish(b)
    total = len(b["lines"])
    status = "in_progress"
    view = {"id": b["id"], "object": "batch", "endpoint": b["meta"]["endpoint"],
            "input_file_id": b["meta"]["input_file_id"], "metadata": b["meta"]["metadata"],
            "completion_window": "24h", "created_at": int(b["created"]), "expires_at": b["created"] + b["window"],
            "request_counts": {"total": total, "completed": 0, "failed": 0}}
    if b["done"] is not None:
        out, err = b["done"]
        status = "cancelled" if b["cancelled"] else "expired" if b["expire"] else "completed"
        view["request_counts"] = {"total": total, "completed": len(out), "failed": len(err)}
        if "files" not in b:
            b["files"] = _openai_files(b["id"], out, err)
        view["output_file_id"], view["error_file_id"] = b["files"]
    view["status"] = status
    return view


def _openai_files(bid: str, out: list, err: list) -> tuple[str, str | None]:
    lines = []
    for cid, body, bad in out:
        line = json.dumps({"id": f"req_{cid}", "custom_id": cid, "error": None,
                           "response": {"status_code": 200, "request_id": cid, "body": _chat(body)}})
        lines.append(line[: len(line) // 2] if bad else line)
    errs = []
    for cid, why, _ in err:
        if why == "failed":
            errs.append(json.dumps({"id": f"req_{cid}", "custom_id": cid, "error": None, "response": {
                "status_code": 500, "body": {"error": {"message": "the server had an error"}}}}))
        else:
            errs.append(json.dumps({"id": f"req_{cid}", "custom_id": cid, "response": None,
                                    "error": {"code": f"batch_{why}", "message": f"this request was {why}"}}))
    ofid, efid = f"file-out-{bid}", (f"file-err-{bid}" if errs else None)
    STATE["files"][ofid] = ("\n".join(lines) + "\n").encode()
    if efid:
        STATE["files"][efid] = ("\n".join(errs) + "\n").encode()
    return ofid, efid


async def get_batch(request: web.Request) -> web.Response:
    b = STATE["batches"].get(request.match_info["bid"])
    if b is None:
        return web.json_response({"error": {"message": "no such batch"}}, status=404)
    STATE["stats"]["polls"] += 1
    return web.json_response(_openai_view(b) if b["kind"] == "openai" else _anthropic_view(request, b))


async def cancel_batch(request: web.Request) -> web.Response:
    b = STATE["batches"][request.match_info["bid"]]
    b["cancelled"] = True
    return web.json_response(_openai_view(b) if b["kind"] == "openai" else _anthropic_view(request, b))


def _listing(kind: str, view) -> web.Response:
    ids = [i for i in reversed(STATE["order"]) if STATE["batches"][i]["kind"] == kind]
    return web.json_response({"object": "list", "data": [view(STATE["batches"][i]) for i in ids], "has_more": False})


async def list_batches(request: web.Request) -> web.Response:
    return _listing("openai", _openai_view)


# -- Anthropic: message batches ---------------------------------------------------------------------

async def create_message_batch(request: web.Request) -> web.Response:
    body = await request.json()
    b = _new_batch("anthropic", body["requests"], {})
    if STATE["stats"]["batches"] <= STATE["opts"].fail_batch_create:
        return web.json_response({"error": {"message": "internal error (the batch was made)"}}, status=500)
    return web.json_response(_anthropic_view(request, b))


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _anthropic_view(request: web.Request, b: dict) -> dict:
    _finish(b)
    n = len(b["lines"])
    view = {"id": b["id"], "type": "message_batch", "created_at": _iso(b["created"]),
            "expires_at": _iso(b["created"] + b["window"]), "processing_status": "in_progress", "results_url": None,
            "request_counts": {"processing": n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}}
    if b["done"] is not None:
        out, err = b["done"]
        counts = {"processing": 0, "succeeded": len(out), "errored": sum(e[1] == "failed" for e in err),
                  "canceled": sum(e[1] == "cancelled" for e in err), "expired": sum(e[1] == "expired" for e in err)}
        view.update(processing_status="ended", request_counts=counts,
                    results_url=f"http://{request.host}/v1/messages/batches/{b['id']}/results")
    return view


async def message_batch_results(request: web.Request) -> web.Response:
    b = STATE["batches"][request.match_info["bid"]]
    out, err = b["done"]
    lines = []
    for cid, params, bad in out:
        text = _content({"seed": _hash(cid)})  # no seed reaches Anthropic: vary by request
        line = json.dumps({"custom_id": cid, "result": {"type": "succeeded", "message": {
            "id": f"msg_{cid}", "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 20, "output_tokens": 12}}}})
        lines.append(line[: len(line) // 2] if bad else line)
    for cid, why, _ in err:
        kind = {"failed": "errored", "cancelled": "canceled"}.get(why, why)
        lines.append(json.dumps({"custom_id": cid, "result": {"type": kind, **(
            {"error": {"type": "api_error", "message": "overloaded"}} if kind == "errored" else {})}}))
    return web.Response(body=("\n".join(lines) + "\n").encode(), content_type="application/binary")


async def list_message_batches(request: web.Request) -> web.Response:
    return _listing("anthropic", lambda b: _anthropic_view(request, b))


async def stats(request: web.Request) -> web.Response:
    return web.json_response(STATE["stats"])


def make_app(opts: argparse.Namespace) -> web.Application:
    STATE["opts"] = opts
    app = web.Application(client_max_size=300 * 1024 * 1024)
    app["opts"] = opts
    r = app.router
    r.add_post("/v1/chat/completions", live)
    r.add_post("/v1/files", upload)
    r.add_get("/v1/files/{fid}/content", file_content)
    r.add_post("/v1/batches", create_batch)
    r.add_get("/v1/batches", list_batches)
    r.add_get("/v1/batches/{bid}", get_batch)
    r.add_post("/v1/batches/{bid}/cancel", cancel_batch)
    r.add_post("/v1/messages/batches", create_message_batch)
    r.add_get("/v1/messages/batches", list_message_batches)
    r.add_get("/v1/messages/batches/{bid}", get_batch)
    r.add_get("/v1/messages/batches/{bid}/results", message_batch_results)
    r.add_post("/v1/messages/batches/{bid}/cancel", cancel_batch)
    r.add_get("/stats", stats)
    return app


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", default="")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds from a batch's create to its end")
    ap.add_argument("--latency-ms", type=float, default=0, help="live answers")
    ap.add_argument("--fail-every", type=int, default=0)
    ap.add_argument("--malformed-every", type=int, default=0)
    ap.add_argument("--expire-first", type=int, default=0)
    ap.add_argument("--fail-batch-create", type=int, default=0)
    ap.add_argument("--never-finish-first", type=int, default=0)
    ap.add_argument("--window", type=float, default=86400.0, help="seconds from a batch's create to its expiry")
    ap.add_argument("--invalid-every", type=int, default=0)
    return ap.parse_args(argv)


def main() -> None:
    from loopback import serve

    opts = parse()
    serve(make_app(opts), opts.port_file)


if __name__ == "__main__":
    main()
