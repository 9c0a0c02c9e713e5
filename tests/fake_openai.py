"""A fake OpenAI-compatible chat server on 127.0.0.1 (HTTPS with ``tls=(cert, key)``); the behaviour is chosen by
the request's model name. Every request's headers are recorded (``auth_headers``, ``headers``)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMPLETION = "Here are the visual characteristics:\n1. A large seabird with long narrow wings.\n2. Dark brown plumage.\n- A pale ring around the bill.\n2. Dark brown plumage."


class _Handler(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}
    auth_headers: list[str] = []
    headers_seen: list[dict[str, str]] = []  # (``self.headers`` is the request's own, in the handler)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model, prompt = body["model"], body["messages"][0]["content"]
        key = f"{model}|{prompt}"
        self.calls[key] = self.calls.get(key, 0) + 1
        self.auth_headers.append(self.headers.get("Authorization", ""))
        self.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
        if model == "redirect":  # somewhere else, e.g. a cloud metadata service: never followed
            return self._raw(307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        if model == "unauthorized":
            return self._json(401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}})
        if model == "bad-request":
            return self._json(400, {"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}})
        if model == "broken" or (model == "flaky" and self.calls[key] == 1):
            return self._json(500 if model == "broken" else 429, {"error": {"message": "try later", "type": "server_error"}})
        if model == "slow":
            time.sleep(2)
        if model == "malformed":
            return self._raw(200, b"this is not json")
        content = "" if model == "empty" else f"{COMPLETION}\n(about: {prompt[-40:]})"
        n = body.get("n", 1)
        self._json(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{"index": i, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"} for i in range(n)],
                "usage": {"prompt_tokens": 12, "completion_tokens": 30 * n, "total_tokens": 12 + 30 * n},
            },
        )

    def _json(self, status: int, data: dict) -> None:
        self._raw(status, json.dumps(data).encode(), {"Content-Type": "application/json", "retry-after-ms": "10"})

    def _raw(self, status: int, payload: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class FakeOpenAI:
    """Context manager: ``with FakeOpenAI() as server: server.base_url`` (``tls=(certfile, keyfile)``: HTTPS)."""

    def __init__(self, tls: tuple[str, str] | None = None):
        self.tls = tls

    def __enter__(self):
        _Handler.calls, _Handler.auth_headers, _Handler.headers_seen = {}, [], []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port
        self.base_url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"
        self.calls, self.auth_headers, self.headers = _Handler.calls, _Handler.auth_headers, _Handler.headers_seen
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        return False
