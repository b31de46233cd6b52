"""A loopback HTTP front for the real test registry, plus a token server.

The registry behind it is the real ``docker-registry`` on 127.0.0.1:5000; the
gate only adds what that registry cannot do in a test: auth (a Bearer challenge
answered by :class:`TokenServer`, or Basic), injected faults (5xx/429 answers,
dropped connections, a blob cut short) and corrupted blob bodies. It records
every request so tests can see what the client sent.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_REPO_PATH = re.compile(r"^/v2/(.+?)/(manifests|blobs|tags)/")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    peer: int = 0  # the client's port: one per connection


@dataclass
class Fault:
    kind: str  # "status", "drop", "truncate"
    match: Callable[[str, str], bool]
    status: int = 503
    retry_after: str = ""
    keep: int = 0  # bytes of body sent before a "truncate" cuts the connection
    body: bytes = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
    content_type: str = "application/json"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self) -> tuple[socket.socket, Any]:
        # http.server writes headers and body separately; without this, Nagle and
        # delayed ACKs add ~40 ms to every answer.
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


class TokenServer:
    """Issues bearer tokens: anonymous pull (if allowed), users by Basic auth, refresh tokens by POST."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.anonymous_pull = True
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # token -> (user, granted scopes)
        self.requests: list[dict[str, object]] = []
        self.expires_in = 300
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                user = ""
                auth = self.headers.get("Authorization", "")
                outer.requests.append({"method": "GET", "query": query, "authorization": auth})
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if outer.users.get(name) != password:
                        return self._answer(401, {"details": "incorrect username or password"})
                    user = name
                self._grant(user, query.get("scope", []), query.get("service", [""])[0])

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                outer.requests.append({"method": "POST", "form": form})
                if form.get("grant_type") != ["refresh_token"]:
                    return self._answer(400, {"error": "unsupported_grant_type"})
                user = outer.refresh_tokens.get(form.get("refresh_token", [""])[0])
                if user is None:
                    return self._answer(401, {"error": "invalid_grant"})
                self._grant(
                    user, form.get("scope", [""])[0].split(), form.get("service", [""])[0], oauth=True
                )

            def _grant(self, user: str, scopes: list[str], service: str, oauth: bool = False) -> None:
                granted: set[str] = set()
                for scope in scopes:
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    for action in actions.split(","):
                        if user or (outer.anonymous_pull and action == "pull"):
                            granted.add(f"{kind}:{name}:{action}")
                token = secrets.token_hex(8)
                outer.tokens[token] = (user, granted)
                key = "access_token" if oauth else "token"
                self._answer(200, {key: token, "expires_in": outer.expires_in})

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Gate:
    """Forwards to the real registry; see the module docstring."""

    upstream: str = "127.0.0.1:5000"
    auth: str = ""  # "", "bearer" or "basic"
    token_server: TokenServer | None = None
    basic_users: dict[str, str] = field(default_factory=dict)
    corrupt_blobs: bool = False
    seen: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    redirect_blobs_to: str = ""
    tls: ssl.SSLContext | None = None  # serve https with this server context

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                record = Seen(
                    self.command, self.path, dict(self.headers.items()), peer=self.client_address[1]
                )
                gate.seen.append(record)
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                fault = gate._take_fault(self.command, self.path)
                if fault is not None and fault.kind == "drop":
                    record.status = -1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault is not None and fault.kind == "status":
                    record.status = fault.status
                    extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    return self._send(fault.status, fault.body, {"Content-Type": fault.content_type, **extra})
                denied = gate._check_auth(self.command, self.path, self.headers.get("Authorization", ""))
                if denied is not None:
                    record.status = 401
                    return self._send(
                        401,
                        b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                        {"Content-Type": "application/json", "WWW-Authenticate": denied},
                    )
                if gate.redirect_blobs_to and self.command == "GET" and "/blobs/sha256:" in self.path:
                    record.status = 307
                    return self._send(307, b"", {"Location": gate.redirect_blobs_to + self.path})
                status, headers, data = gate._forward(self.command, self.path, self.headers, body)
                record.status = status
                is_blob = self.command == "GET" and "/blobs/sha256:" in self.path and status in (200, 206)
                if is_blob and gate.corrupt_blobs and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if fault is not None and fault.kind == "truncate" and is_blob:
                    self.send_response(status)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data[: fault.keep])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(status, data, headers, head=self.command == "HEAD")

            def _send(self, status: int, data: bytes, headers: object, head: bool = False) -> None:
                self.send_response(status)
                items = headers.items() if isinstance(headers, dict) else headers
                has_length = False
                for name, value in items:
                    if name.lower() == "content-length":
                        has_length = True
                    self.send_header(name, value)
                if not has_length:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    # -- configuration ---------------------------------------------------------------------

    def fail(
        self,
        times: int,
        status: int = 503,
        *,
        retry_after: str = "",
        path: str = "",
        method: str = "",
        body: bytes | None = None,
        content_type: str = "text/html",
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (a JSON error, or ``body``)."""
        extra = {} if body is None else {"body": body, "content_type": content_type}
        for _ in range(times):
            self.faults.append(
                Fault(
                    "status",
                    lambda m, p: path in p and method in ("", m),
                    status=status,
                    retry_after=retry_after,
                    **extra,  # type: ignore[arg-type]
                )
            )

    def drop(self, times: int, *, path: str = "") -> None:
        for _ in range(times):
            self.faults.append(Fault("drop", lambda m, p: path in p))

    def truncate_blob(self, keep: int) -> None:
        self.faults.append(Fault("truncate", lambda m, p: m == "GET" and "/blobs/sha256:" in p, keep=keep))

    def requests(self, method: str = "", contains: str = "") -> list[Seen]:
        return [s for s in self.seen if (not method or s.method == method) and contains in s.path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- internals ---------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.match(method, path):
                    return self.faults.pop(i)
        return None

    def _check_auth(self, method: str, path: str, authorization: str) -> str | None:
        """None when allowed, else the WWW-Authenticate value to answer with."""
        if self.auth == "basic":
            if authorization.startswith("Basic "):
                name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
                if self.basic_users.get(name) == password:
                    return None
            return 'Basic realm="gate"'
        if self.auth != "bearer":
            return None
        assert self.token_server is not None
        match = _REPO_PATH.match(urlsplit(path).path)
        needed: list[str] = []
        if match:
            action = "pull" if method in ("GET", "HEAD") else "push"
            needed.append(f"repository:{match.group(1)}:{action}")
            mount_from = parse_qs(urlsplit(path).query).get("from")
            if mount_from:
                needed.append(f"repository:{mount_from[0]}:pull")
        if authorization.startswith("Bearer "):
            grant = self.token_server.tokens.get(authorization[7:])
            if grant is not None and all(n in grant[1] for n in needed):
                return None
        challenge = f'Bearer realm="{self.token_server.realm}",service="gate"'
        if match:
            name = match.group(1)
            actions = "pull" if method in ("GET", "HEAD") else "pull,push"
            challenge += f',scope="repository:{name}:{actions}"'
        return challenge

    def _forward(
        self, method: str, path: str, headers: object, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            send = {
                k: v
                for k, v in headers.items()  # type: ignore[attr-defined]
                if k.lower() not in ("authorization", "connection", "content-length")
            }
            send["Content-Length"] = str(len(body))
            conn.request(method, path, body=body if body else None, headers=send)
            resp = conn.getresponse()
            data = resp.read()
            kept = [
                (k, v) for k, v in resp.getheaders() if k.lower() not in ("connection", "transfer-encoding")
            ]
            if not any(k.lower() == "content-length" for k, _ in kept) and method != "HEAD":
                kept.append(("Content-Length", str(len(data))))
            return resp.status, kept, data
        finally:
            conn.close()
