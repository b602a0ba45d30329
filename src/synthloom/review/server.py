"""`synthloom review`: the spot-check page, served on loopback with aiohttp.

Records are model output and may contain anything, so the page builds every
value as text (never as markup), and the server adds walls around it:

- it binds to 127.0.0.1 only, and answers only requests whose Host is
  127.0.0.1:PORT or localhost:PORT (a DNS-rebinding page cannot reach it);
- every request needs the random token printed with the URL (page: `?token=`,
  API: the `X-Review-Token` header);
- a write must be a same-origin JSON POST: a cross-origin Origin or
  Sec-Fetch-Site is refused, and a form post cannot carry the header;
- a Content-Security-Policy lets only the page's own script (by nonce) run.
"""
from __future__ import annotations

import asyncio
import errno
import hmac
import json
import secrets
from importlib import resources
from typing import Any, Awaitable, Callable

from ..errors import SynthloomError, UsageError
from .items import dumps_items
from .session import ReviewSession

HOST = "127.0.0.1"
_CSP = ("default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def page_html() -> str:
    return resources.files(__package__).joinpath("static/review.html").read_text(encoding="utf-8")


class ReviewServer:
    """The page and its small JSON API over one ReviewSession."""

    def __init__(self, session: ReviewSession, port: int = 0, token: str | None = None) -> None:
        self.session = session
        self.port = port
        self.token = token or secrets.token_urlsafe(24)
        self._runner: Any = None
        self._page = page_html()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def _allowed_hosts(self) -> set[str]:
        return {f"{HOST}:{self.port}", f"localhost:{self.port}"}

    def _app(self):
        from aiohttp import web

        @web.middleware
        async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
            if request.host not in self._allowed_hosts():
                return _error(403, "wrong Host: open the page at the address `synthloom review` printed")
            if request.path == "/favicon.ico":
                return web.Response(status=204)
            given = request.headers.get("X-Review-Token") or request.query.get("token", "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _error(403, "missing or wrong token: open the full address `synthloom review` printed")
            if request.method not in ("GET", "HEAD"):
                origin = request.headers.get("Origin")
                if origin is not None and origin not in {f"http://{h}" for h in self._allowed_hosts()}:
                    return _error(403, f"cross-origin write refused (Origin {origin})")
                if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                    return _error(403, "cross-site write refused")
                if request.content_type != "application/json":
                    return _error(415, "send JSON (Content-Type: application/json)")
            resp = await handler(request)
            resp.headers.update({"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                                 "Cache-Control": "no-store", "X-Frame-Options": "DENY"})
            return resp

        app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
        app.router.add_get("/", self.page)
        app.router.add_get("/api/state", self.state)
        app.router.add_get("/api/summary", self.summary)
        app.router.add_post("/api/verdict", self.verdict)
        return app

    async def page(self, request: Any) -> Any:
        from aiohttp import web

        nonce = secrets.token_urlsafe(16)
        resp = web.Response(text=self._page.replace("__NONCE__", nonce), content_type="text/html", charset="utf-8")
        resp.headers["Content-Security-Policy"] = _CSP.format(n=nonce)
        return resp

    async def state(self, request: Any) -> Any:
        return _json(self.session.state())

    async def summary(self, request: Any) -> Any:
        return _json(self.session.summary())

    async def verdict(self, request: Any) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "send a JSON object {id, verdict, reason, note}")
        try:
            saved = self.session.save(body.get("id"), body.get("verdict"), body.get("reason", ""), body.get("note", ""))
        except SynthloomError as exc:
            return _error(400, str(exc))
        return _json(saved)

    async def start(self) -> str:
        from aiohttp import web

        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port, reuse_address=False)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {self.port} on {HOST} is in use: give another with --port, "
                                 "or leave --port out to take a free one") from None
            raise UsageError(f"cannot listen on {HOST}:{self.port} ({exc.strerror or exc}); try another --port") from None
        self.port = self._runner.addresses[0][1]  # the free port the OS chose for --port 0
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _json(value: Any) -> Any:
    from aiohttp import web

    return web.Response(text=dumps_items(value), content_type="application/json", charset="utf-8")


def _error(status: int, message: str) -> Any:
    from aiohttp import web

    return web.Response(status=status, text=json.dumps({"error": message}), content_type="application/json")


def serve(session: ReviewSession, port: int = 0, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C). Verdicts are committed as they arrive, so stopping loses nothing."""

    async def main() -> None:
        server = ReviewServer(session, port)
        url = await server.start()
        if on_ready:
            on_ready(url)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    asyncio.run(main())
