"""``WWW-Authenticate`` challenges and the bearer-token cache.

Challenges are parsed as RFC 7235 says (several per header, quoted strings with
escapes), which is what docker's ``authchallenge`` package accepts. Tokens are
cached per (realm, service, scopes) until shortly before they expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

# docker's minimum token lifetime: a shorter or missing expires_in counts as 60 s.
MIN_TOKEN_SECONDS = 60
# Refresh a little early so a token does not expire between the check and the request.
_EXPIRY_MARGIN = 5.0


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower-case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """All challenges in the ``WWW-Authenticate`` header values, in order."""
    out: list[Challenge] = []
    for header in headers:
        out.extend(_parse_header(header))
    return out


def _parse_header(text: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    i, n = 0, len(text)

    def skip_space(j: int) -> int:
        while j < n and text[j] in " \t":
            j += 1
        return j

    def token(j: int) -> tuple[str, int]:
        start = j
        while j < n and text[j] in _TCHAR:
            j += 1
        return text[start:j], j

    while i < n:
        i = skip_space(i)
        while i < n and text[i] == ",":
            i = skip_space(i + 1)
        scheme, i = token(i)
        if not scheme:
            break
        current = Challenge(scheme.lower(), {})
        challenges.append(current)
        while True:
            i = skip_space(i)
            while i < n and text[i] == ",":
                i = skip_space(i + 1)
            name, after = token(i)
            j = skip_space(after)
            if not name or j >= n or text[j] != "=":
                break  # the next scheme (or the end)
            j = skip_space(j + 1)
            if j < n and text[j] == '"':
                value, j = _quoted(text, j)
            else:
                # RFC 7235 wants a token here; accept an unquoted URL too (some servers send one).
                start = j
                while j < n and text[j] not in ", \t":
                    j += 1
                value = text[start:j]
            current.params[name.lower()] = value
            i = j
    return challenges


def _quoted(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


class TokenCache:
    """Bearer tokens by (realm, service, scopes, identity); thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(realm: str, service: str, scopes: Iterable[str], identity: str) -> tuple[str, ...]:
        return (realm, service, identity, *sorted(set(scopes)))

    def get(self, key: tuple[str, ...]) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, key: tuple[str, ...], token: str, expires_in: float) -> None:
        lifetime = max(float(expires_in), MIN_TOKEN_SECONDS) - _EXPIRY_MARGIN
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + lifetime)

    def drop(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._tokens.pop(key, None)
