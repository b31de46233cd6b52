"""One HTTP exchange at a time over pooled keep-alive connections (``http.client``).

No auth, no redirects, no retries here: the client layers those on top. What
this module owns is connection reuse (a stale keep-alive connection is replaced
once, transparently) and the loopback test behind the client's scheme policy.
"""

from __future__ import annotations

import http.client
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, Self
from urllib.parse import urlsplit

from bakec.registry.errors import RegistryError


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


Body = bytes | Readable | None
BodyFactory = Callable[[], Body]

_BLOCK = 1 << 20
_MAX_IDLE_PER_HOST = 8
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


def host_name(netloc: str) -> str:
    """The host of ``host[:port]`` / ``[v6]:port``, lower-cased, without brackets."""
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")].lower()
    return netloc.rpartition(":")[0].lower() if netloc.count(":") == 1 else netloc.lower()


def is_loopback(netloc: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1 (with or without a port), as containerd's MatchLocalhost."""
    host = host_name(netloc)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Response:
    """A response whose body may still be unread; :meth:`close` returns the connection to the pool."""

    def __init__(
        self,
        transport: Transport,
        key: tuple[str, str, bool],
        conn: http.client.HTTPConnection,
        raw: http.client.HTTPResponse,
        url: str,
        method: str = "GET",
    ) -> None:
        self._transport = transport
        self._key = key
        self._conn: http.client.HTTPConnection | None = conn
        self._raw = raw
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers
        self.url = url
        self.method = method
        self._body: bytes | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default) or default

    def read(self, limit: int | None = None) -> bytes:
        """The whole body (at most ``limit`` bytes; a longer body is cut and the connection dropped).

        The body is kept, so a second call returns it again. A body cut short by
        the peer raises ``http.client.IncompleteRead``.
        """
        if self._body is not None:
            return self._body
        try:
            data = self._raw.read() if limit is None else self._raw.read(limit)
            if limit is not None and len(data) < limit:
                self._check_complete(data)
        finally:
            if limit is not None and not self._raw.isclosed():
                self._drop()
            self.close()
        self._body = data
        return data

    def iter_bytes(self, size: int = _BLOCK) -> Iterator[bytes]:
        """The body in chunks; a body cut short raises ``http.client.IncompleteRead``."""
        while True:
            chunk = self._raw.read(size)
            if not chunk:
                self._check_complete(b"")
                return
            yield chunk

    def _check_complete(self, data: bytes) -> None:
        # http.client's read(n) returns short data silently when the peer closes early.
        remaining = self._raw.length
        if remaining:
            raise http.client.IncompleteRead(data, remaining)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        if self._conn is None:
            return
        if not self._raw.isclosed() and self._raw.length == 0:
            self._raw.read()  # an empty body (HEAD, 204, Content-Length: 0): marks it complete
        if self._raw.isclosed() and not self._raw.will_close:
            self._transport._release(self._key, self._conn)
            self._conn = None
        else:
            self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Transport:
    """Pooled connections keyed by (scheme, host:port, verify-TLS); safe to share between threads."""

    def __init__(self, *, timeout: float, user_agent: str) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        # (time.monotonic() deadline, error to raise past it): bounds a whole operation, not a request
        self.deadline: tuple[float, RegistryError] | None = None
        self._idle: dict[tuple[str, str, bool], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[bool, ssl.SSLContext] = {}

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: BodyFactory | None = None,
        *,
        verify: bool = True,
    ) -> Response:
        """Send one request and return once the status line and headers are in."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, verify)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": self.user_agent, **headers}
        # A reused keep-alive connection may have been closed by the server in the
        # meantime; that is not a failure of the request, so try once more fresh.
        for fresh in (False, True):
            timeout = self._request_timeout()
            conn, reused = self._acquire(key, fresh)
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)  # a pooled connection: the deadline may be nearer now
            try:
                conn.request(method, target, body=body() if body else None, headers=headers)
                raw = conn.getresponse()
            except _STALE:
                conn.close()
                if reused:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            return Response(self, key, conn, raw, url, method)
        raise AssertionError("unreachable")

    def _request_timeout(self) -> float:
        """The socket timeout of the next request: the per-request one, or less near the deadline."""
        if self.deadline is None:
            return self.timeout
        at, error = self.deadline
        left = at - time.monotonic()
        if left <= 0:
            raise error
        return min(self.timeout, left)

    def _acquire(self, key: tuple[str, str, bool], fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        if not fresh:
            with self._lock:
                idle = self._idle.get(key)
                if idle:
                    return idle.pop(), True
        scheme, netloc, verify = key
        if scheme == "https":
            context = self._context(verify)
            return http.client.HTTPSConnection(
                netloc, timeout=self.timeout, context=context, blocksize=_BLOCK
            ), False
        return http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=_BLOCK), False

    def _context(self, verify: bool) -> ssl.SSLContext:
        # Made on first use: loading the CA bundle takes a quarter of a second,
        # which a client that only talks to a loopback registry never needs.
        with self._lock:
            context = self._contexts.get(verify)
            if context is None:
                context = ssl.create_default_context()
                if not verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self._contexts[verify] = context
            return context

    def _release(self, key: tuple[str, str, bool], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < _MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()
