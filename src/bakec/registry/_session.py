"""The request path every registry call takes: scheme policy, auth, redirects, retries, errors.

A :class:`Session` sends one logical request: the URL's scheme follows the
policy (plain http only for loopback or insecure registries; an insecure
registry is tried over https first, as docker does), the Authorization header
never leaves the registry's host on a redirect, a ``WWW-Authenticate``
challenge is answered (anonymous, Basic, or a Bearer token from the realm,
with docker's credentials), and connection errors, 5xx and 429 are retried
with bounded exponential backoff. Registry error bodies become
:class:`RegistryError` subclasses that name the registry, the repository and
what failed.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import re
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin, urlsplit

from bakec.registry import _auth
from bakec.registry._http import BodyFactory, Response, Transport, is_loopback
from bakec.registry.credentials import Credentials, DockerConfig
from bakec.registry.errors import AuthenticationError, DigestMismatch, NotFound, RegistryError
from bakec.registry.reference import Reference

MAX_ERROR_BODY = 64 << 10
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HUB_ENDPOINT = "registry-1.docker.io"


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a request is for, to name it in errors."""

    action: str
    registry: str
    repository: str
    push: bool = False


def pull_scope(path: str) -> str:
    return f"repository:{path}:pull"


def push_scope(path: str) -> str:
    return f"repository:{path}:pull,push"


def merge_scopes(scopes: Sequence[str], extra: Iterable[str]) -> list[str]:
    """Scopes with the actions of the same resource merged (``…:pull`` is within ``…:pull,push``)."""
    actions: dict[str, list[str]] = {}
    for scope in [*scopes, *extra]:
        resource, _, wanted = scope.rpartition(":")
        if not resource:
            continue
        known = actions.setdefault(resource, [])
        known += [a for a in wanted.split(",") if a and a not in known]
    return [f"{resource}:{','.join(acts)}" for resource, acts in actions.items()]


class Session:
    """Shared by every call of one client; safe to use from several threads."""

    def __init__(
        self,
        *,
        docker_config: DockerConfig | None,
        insecure: Iterable[str],
        max_attempts: int,
        backoff: float,
        max_backoff: float,
        timeout: float,
        user_agent: str,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._docker_config = docker_config
        self._insecure = frozenset(h.lower() for h in insecure)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._transport = Transport(timeout=timeout, user_agent=user_agent)
        self._tokens = _auth.TokenCache()
        self._challenges: dict[str, _auth.Challenge] = {}
        self._plain: set[str] = set()  # insecure hosts found to speak plain http
        self._lock = threading.Lock()

    def close(self) -> None:
        self._transport.close()

    @contextmanager
    def deadline(self, seconds: float, error: RegistryError) -> Iterator[None]:
        """Fail every request (and retry) with ``error`` once ``seconds`` have passed."""
        self._transport.deadline = (time.monotonic() + seconds, error)
        try:
            yield
        finally:
            self._transport.deadline = None

    def _endpoint(self, domain: str) -> str:
        return _HUB_ENDPOINT if domain == "docker.io" else domain

    def base_url(self, domain: str) -> str:
        host = self._endpoint(domain)
        plain = is_loopback(host) or host.lower() in self._plain
        return f"{'http' if plain else 'https'}://{host}"

    def _credentials(self, domain: str) -> Credentials:
        if self._docker_config is None:
            self._docker_config = DockerConfig.load()
        return self._docker_config.credentials(domain)

    def _check_url(self, url: str, ctx: Ctx) -> bool:
        """Enforce the scheme policy on a URL; returns whether TLS must be verified."""
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        if parts.scheme == "http":
            if not (is_loopback(netloc) or netloc in self._insecure):
                raise RegistryError(
                    f"{ctx.action}: refusing plain http to {netloc}",
                    "plain http is only used for loopback registries or registries marked insecure",
                    registry=ctx.registry,
                    repository=ctx.repository,
                )
            return True
        if parts.scheme != "https":
            raise RegistryError(f"{ctx.action}: unsupported URL {url!r}", registry=ctx.registry)
        return netloc not in self._insecure

    def request(
        self,
        method: str,
        repo: Reference,
        path: str,
        ctx: Ctx,
        *,
        scopes: Sequence[str],
        headers: Mapping[str, str] | None = None,
        body: BodyFactory | None = None,
        url: str | None = None,
        attempts: int | None = None,
        transient_errors: bool = False,
        preload: int | None = None,
    ) -> Response:
        """One registry request with auth, redirects and retries; the caller checks the status."""
        domain = repo.domain
        scopes = list(scopes)
        for auth_round in range(2):
            target = url or self.base_url(domain) + path
            send_headers = dict(headers or {})
            authorization = self._authorization(domain, scopes, ctx)
            if authorization:
                send_headers["Authorization"] = authorization
            resp = self._exchange(
                method,
                target,
                send_headers,
                body,
                ctx,
                attempts or self.max_attempts,
                transient_errors,
                auth_host=self._endpoint(domain),
                preload=preload,
            )
            if resp.status != 401 or auth_round:
                return resp
            # Learn (or re-learn) the challenge and retry once: the first request to a
            # registry, an expired or revoked token, or a scope the registry added.
            challenges = _auth.parse_challenges(resp.headers.get_all("WWW-Authenticate") or [])
            chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next(
                (c for c in challenges if c.scheme == "basic"), None
            )
            if chosen is None:
                return resp
            with self._lock:
                self._challenges[domain] = chosen
            if authorization and chosen.scheme == "bearer":
                self._tokens.drop(self._token_key(domain, chosen, scopes))
            scopes = merge_scopes(scopes, chosen.params.get("scope", "").split())
            drain(resp)
        raise AssertionError("unreachable")

    def _authorization(self, domain: str, scopes: Sequence[str], ctx: Ctx) -> str | None:
        with self._lock:
            challenge = self._challenges.get(domain)
        if challenge is None:
            return None  # credentials are looked up only once the registry asks for them
        creds = self._credentials(domain)
        if creds.registry_token:
            return f"Bearer {creds.registry_token}"
        if challenge.scheme == "basic":
            if creds.username or creds.password:
                raw = f"{creds.username}:{creds.password}".encode()
                return "Basic " + base64.b64encode(raw).decode("ascii")
            return None
        return f"Bearer {self._token(domain, challenge, scopes, creds, ctx)}"

    def _token_key(self, domain: str, challenge: _auth.Challenge, scopes: Sequence[str]) -> tuple[str, ...]:
        creds = self._credentials(domain)
        identity = creds.username or ("<identity-token>" if creds.identity_token else "")
        return _auth.TokenCache.key(challenge.realm, challenge.params.get("service", ""), scopes, identity)

    def _token(
        self, domain: str, challenge: _auth.Challenge, scopes: Sequence[str], creds: Credentials, ctx: Ctx
    ) -> str:
        key = self._token_key(domain, challenge, scopes)
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        realm = challenge.realm
        if not realm:
            raise AuthenticationError(
                f"{ctx.action}: registry {domain} asked for a bearer token without a realm",
                registry=ctx.registry,
                repository=ctx.repository,
            )
        service = challenge.params.get("service", "")
        resp: Response | None = None
        if creds.identity_token:
            # docker's OAuth refresh-token grant; containerd falls back to GET when it is unsupported.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "bakec",
            }
            if service:
                form["service"] = service
            if scopes:
                form["scope"] = " ".join(scopes)
            data = urlencode(form).encode()
            resp = self._exchange(
                "POST",
                realm,
                {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(data))},
                lambda: data,
                ctx,
                self.max_attempts,
                False,
                auth_host=urlsplit(realm).netloc,
                preload=MAX_ERROR_BODY,
            )
            if resp.status in (404, 405):
                drain(resp)
                resp = None
        if resp is None:
            params: list[tuple[str, str]] = []
            if service:
                params.append(("service", service))
            params += [("scope", s) for s in scopes]
            headers = {}
            if creds.username or creds.password:
                params.append(("account", creds.username))
                raw = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
            sep = "&" if urlsplit(realm).query else "?"
            url = realm + (sep + urlencode(params) if params else "")
            resp = self._exchange(
                "GET",
                url,
                headers,
                None,
                ctx,
                self.max_attempts,
                False,
                auth_host=urlsplit(realm).netloc,
                preload=MAX_ERROR_BODY,
            )
        with resp:
            if resp.status in (401, 403):
                detail = self._error_detail(resp, f"token server {urlsplit(realm).netloc}")
                who = f"as {creds.username!r}" if creds.username else "anonymously"
                raise AuthenticationError(
                    f"{ctx.action}: {'push' if ctx.push else 'pull'} access denied for {domain}/{ctx.repository}"
                    f" (authenticating {who})",
                    detail,
                    registry=ctx.registry,
                    repository=ctx.repository,
                    status=resp.status,
                )
            if resp.status != 200:
                detail = self._error_detail(resp, f"token server {urlsplit(realm).netloc}")
                raise AuthenticationError(
                    f"{ctx.action}: cannot get a token from {realm}",
                    detail,
                    registry=ctx.registry,
                    repository=ctx.repository,
                    status=resp.status,
                )
            body = resp.read(MAX_ERROR_BODY)
        try:
            answer = json.loads(body)
            token = str(answer.get("token") or answer.get("access_token") or "")
            expires_in = float(answer.get("expires_in") or 0)
        except (ValueError, AttributeError, TypeError):
            raise AuthenticationError(f"{ctx.action}: the token server {realm} sent no JSON") from None
        if not token:
            raise AuthenticationError(f"{ctx.action}: the token server {realm} sent no token")
        self._tokens.put(key, token, expires_in)
        return token

    def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: BodyFactory | None,
        ctx: Ctx,
        attempts: int,
        transient_errors: bool,
        *,
        auth_host: str,
        preload: int | None = None,
    ) -> Response:
        """Send with redirects, retrying connection errors, 5xx and 429 with backoff.

        With ``preload``, the body (up to that many bytes) is read here too, so a
        connection lost while reading it is retried like one lost before the answer.
        """
        attempt = 0
        while True:
            try:
                resp = self._send_following(method, url, headers, body, ctx, auth_host)
                if preload is not None and resp.status not in RETRY_STATUSES:
                    resp.read(preload)
            except ssl.SSLCertVerificationError as e:
                raise RegistryError(
                    f"{ctx.action}: the TLS certificate of {urlsplit(url).netloc} is not trusted",
                    str(e),
                    registry=ctx.registry,
                    repository=ctx.repository,
                ) from None
            except (OSError, http.client.HTTPException) as e:
                attempt += 1
                if attempt < attempts:
                    time.sleep(self.delay(attempt - 1, ""))
                    continue
                if transient_errors:
                    raise Transient(str(e) or type(e).__name__, "") from None
                where = urlsplit(url)
                raise RegistryError(
                    f"{ctx.action}: cannot reach {where.scheme}://{where.netloc}",
                    f"{e or type(e).__name__} (after {attempts} attempt{'s' if attempts > 1 else ''})",
                    registry=ctx.registry,
                    repository=ctx.repository,
                ) from None
            if resp.status in RETRY_STATUSES and attempt + 1 < attempts:
                attempt += 1
                retry_after = resp.header("Retry-After")
                drain(resp)
                time.sleep(self.delay(attempt - 1, retry_after))
                continue
            return resp

    def _send_following(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: BodyFactory | None,
        ctx: Ctx,
        auth_host: str,
    ) -> Response:
        for _ in range(_MAX_REDIRECTS + 1):
            verify = self._check_url(url, ctx)
            netloc = urlsplit(url).netloc.lower()
            send_headers = headers
            if "Authorization" in headers and netloc != auth_host.lower():
                send_headers = {k: v for k, v in headers.items() if k != "Authorization"}
            try:
                resp = self._transport.send(method, url, send_headers, body, verify=verify)
            except (ssl.SSLError, ConnectionRefusedError):
                # An insecure registry may speak plain http: docker tries https first, then http.
                if url.startswith("https://") and netloc in self._insecure:
                    with self._lock:
                        self._plain.add(netloc)
                    url = "http://" + url[len("https://") :]
                    continue
                raise
            if resp.status not in _REDIRECT_STATUSES or method not in ("GET", "HEAD"):
                return resp
            location = resp.header("Location")
            drain(resp)
            if not location:
                raise RegistryError(f"{ctx.action}: redirect without a Location", registry=ctx.registry)
            url = urljoin(url, location)
        raise RegistryError(
            f"{ctx.action}: too many redirects", registry=ctx.registry, repository=ctx.repository
        )

    def delay(self, attempt: int, retry_after: str) -> float:
        delay = min(self.max_backoff, self.backoff * 2.0**attempt)
        delay *= 0.8 + 0.4 * random.random()
        if retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), self.max_backoff))
        return delay

    # -- errors ----------------------------------------------------------------------------------

    @staticmethod
    def _registry_errors(resp: Response) -> tuple[str, str, list[dict[str, Any]]]:
        try:
            body = resp.read(MAX_ERROR_BODY)
        except (OSError, http.client.HTTPException):
            body = b""
        try:
            errors = json.loads(body).get("errors") or []
            errors = [e for e in errors if isinstance(e, dict)]
        except (ValueError, AttributeError):
            errors = []
        if errors:
            return str(errors[0].get("code", "")), str(errors[0].get("message", "")), errors
        return "", _one_line(body, f"{resp.status} {resp.reason}"), []

    def _error_detail(self, resp: Response, who: str) -> str:
        code, message, _ = self._registry_errors(resp)
        return f"{who} answered {resp.status} {code or resp.reason}" + (f": {message}" if message else "")

    def fail(self, resp: Response, ctx: Ctx) -> NoReturn:
        code, message, _ = self._registry_errors(resp)
        status = resp.status
        detail = f"registry {ctx.registry}, repository {ctx.repository}: {status} {code or resp.reason}"
        if message:
            detail += f" ({message})"
        kw: dict[str, Any] = {
            "registry": ctx.registry,
            "repository": ctx.repository,
            "code": code,
            "status": status,
        }
        if status in (401, 403) or code in ("UNAUTHORIZED", "DENIED"):
            access = "push" if ctx.push else "pull"
            hint = (
                "may require 'docker login'"
                if ctx.push
                else ("repository does not exist or may require 'docker login'")
            )
            raise AuthenticationError(
                f"{ctx.action}: {access} access denied for {ctx.registry}/{ctx.repository}, {hint}",
                detail,
                **kw,
            )
        if code == "MANIFEST_UNKNOWN":
            raise NotFound(f"{ctx.action}: manifest unknown", detail, **kw)
        if code == "NAME_UNKNOWN":
            raise NotFound(
                f"{ctx.action}: repository {ctx.registry}/{ctx.repository} not found", detail, **kw
            )
        if code == "BLOB_UNKNOWN":
            raise NotFound(f"{ctx.action}: blob unknown", detail, **kw)
        if code == "DIGEST_INVALID":
            raise DigestMismatch(f"{ctx.action}: the registry rejected the digest", detail, **kw)
        if status == 404:
            raise NotFound(f"{ctx.action}: not found", detail, **kw)
        if not code:
            # No distribution error: say what containerd says, the request and its status line.
            summary = f"unexpected status from {resp.method} request to {resp.url}: {status} {resp.reason}"
            detail = f"registry {ctx.registry}, repository {ctx.repository}" + (
                f": {message}" if message else ""
            )
            raise RegistryError(f"{ctx.action}: {summary}", detail, **kw)
        raise RegistryError(f"{ctx.action}: {message or code}", detail, **kw)


_TAG = re.compile(r"<[^>]*>")
_MAX_BODY_LINE = 120


def _one_line(body: bytes, status_line: str) -> str:
    """A non-JSON error body as one short line: markup and lines repeating the status dropped."""
    text = _TAG.sub("\n", body.decode("utf-8", "replace"))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    kept = [line for line in lines if line and line != status_line]
    line = "; ".join(dict.fromkeys(kept))
    return line if len(line) <= _MAX_BODY_LINE else line[: _MAX_BODY_LINE - 1] + "…"


def parse_json(data: bytes, what: str, ctx: Ctx) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as e:
        raise RegistryError(f"{ctx.action}: {what} is not valid JSON", str(e)) from None
    if not isinstance(value, dict):
        raise RegistryError(f"{ctx.action}: {what} is not a JSON object")
    return value


def mismatch(ctx: Ctx, what: str, expected: str, got: str, size: int) -> NoReturn:
    raise DigestMismatch(
        f"{ctx.action}: digest mismatch for {what}",
        f"expected {expected}, got {got} ({size} bytes) from registry {ctx.registry}, "
        f"repository {ctx.repository}",
        registry=ctx.registry,
        repository=ctx.repository,
    )


def too_large(ctx: Ctx, what: str, size: int, limit: int) -> NoReturn:
    raise RegistryError(
        f"{ctx.action}: {what} is larger than {limit} bytes ({size})",
        registry=ctx.registry,
        repository=ctx.repository,
    )


def drain(resp: Response) -> None:
    """Read what is left of a small answer so the connection can be reused; errors do not matter."""
    try:
        resp.read(MAX_ERROR_BODY)
    except (OSError, http.client.HTTPException):
        pass


class Transient(Exception):
    """A retryable upload failure (connection error, 5xx, 429): restart the upload."""

    def __init__(self, message: str, retry_after: str) -> None:
        super().__init__(message)
        self.retry_after = retry_after
