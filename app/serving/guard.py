"""The door every request passes: drain, API key, content type and size limits, and
the request metrics. A plain ASGI middleware, so a refused request costs no parsing
and an oversized body is cut off while it arrives, not after.
"""

import hmac
import time
from collections.abc import Awaitable, Callable

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from app.serving.service import Service

HEALTH_CHECKS = {"/healthz", "/readyz"}
PUBLIC = HEALTH_CHECKS | {"/", "/docs", "/openapi.json", "/favicon.ico"}  # the page and the API's description
PUBLIC_PREFIX = "/static/"  # the page's script, style and font
UPLOAD = "/v1/predict/file"
POSTED = {"/v1/predict", "/v1/explain", UPLOAD}  # the routes that take a body
ROUTES = {"/", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics", "/v1/model", *POSTED}


class BodyTooLarge(HTTPException):
    """Raised while the body arrives: FastAPI passes HTTPExceptions through its body parsing."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(413, f"{'the upload' if path == UPLOAD else 'the request body'} is larger than {limit:,} bytes "
                              "(the server's limit)")


class Guard:
    """Wraps the app: refuses what must not reach it, counts what does."""

    def __init__(self, app: Callable, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, answered = time.perf_counter(), {"status": 500}

        async def send_and_note(message: dict) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        path = scope["path"]
        refusal = self._refusal(path, scope["method"], Headers(scope=scope))
        if refusal:
            status, message = refusal
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            await JSONResponse({"detail": message}, status, headers=headers)(scope, receive, send_and_note)
        else:
            self.service.in_flight += 1
            try:
                await self.app(scope, self._limited(receive, path), send_and_note)
            finally:
                self.service.in_flight -= 1
        route = path if path in ROUTES else ("/static" if path.startswith(PUBLIC_PREFIX) else "other")
        self.service.metrics.observe_request(route, answered["status"], time.perf_counter() - started)

    def _refusal(self, path: str, method: str, headers: Headers) -> tuple[int, str] | None:
        """(status, message) for a request refused at the door, else None."""
        settings = self.service.settings
        if self.service.draining and path != "/healthz":
            return 503, "the server is shutting down; send the request to another instance or try again"
        # a browser's CORS preflight (OPTIONS) never carries the key
        if settings.api_key and method != "OPTIONS" and path not in PUBLIC and not path.startswith(PUBLIC_PREFIX):
            if not _has_key(headers, settings.api_key):
                return 401, "missing or wrong API key: send it as the X-API-Key header or Authorization: Bearer <key>"
        if method == "POST" and path in POSTED:
            wanted = "multipart/form-data" if path == UPLOAD else "application/json"
            given = headers.get("content-type", "").split(";")[0].strip().lower()
            if given != wanted:
                return 415, f"content-type must be {wanted}, not {given or 'missing'}"
            length, limit = headers.get("content-length", ""), self._size_limit(path)
            if length.isdigit() and int(length) > limit:
                return 413, BodyTooLarge(path, limit).detail
        return None

    def _size_limit(self, path: str) -> int:
        settings = self.service.settings
        return settings.max_upload_bytes if path == UPLOAD else settings.max_body_bytes

    def _limited(self, receive: Callable, path: str) -> Callable[[], Awaitable[dict]]:
        """``receive``, raising BodyTooLarge once the body passes its limit (a body sent
        without a Content-Length, or with a false one)."""
        limit, received = self._size_limit(path), 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(path, limit)
            return message
        return limited


def _has_key(headers: Headers, key: str) -> bool:
    given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), key.encode())
