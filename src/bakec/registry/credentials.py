"""Registry credentials from docker's ``config.json``, looked up as the docker CLI does.

``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``. For a registry
host, ``credHelpers[host]`` wins, then ``credsStore``, then ``auths``. A helper is
``docker-credential-<name> get`` with the server address on stdin and a JSON
answer on stdout; ``Username == "<token>"`` means the secret is an identity token.
Docker Hub's key is ``https://index.docker.io/v1/``; ``auths`` keys written as
URLs (``https://host/v1/``) match their host, as in docker's file store.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bakec.registry.errors import RegistryError

__all__ = ["INDEX_SERVER", "Credentials", "DockerConfig", "auth_key"]

INDEX_SERVER = "https://index.docker.io/v1/"
_TOKEN_USERNAME = "<token>"
_NOT_FOUND_MESSAGE = "credentials not found in native keychain"
_HELPER_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """What docker would authenticate with; all empty means anonymous."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token or self.registry_token)

    def __repr__(self) -> str:
        # Never show secrets (errors and logs may print the object).
        kinds = [k for k in ("password", "identity_token", "registry_token") if getattr(self, k)]
        return f"Credentials(username={self.username!r}, with={kinds})"


def auth_key(registry: str) -> str:
    """The config key docker uses for a registry host (``docker.io`` → the v1 index URL)."""
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return INDEX_SERVER
    return registry


def _hostname(key: str) -> str:
    """docker's ``ConvertToHostname``: ``https://host:5000/v1/`` → ``host:5000``."""
    if "://" in key:
        parts = urlsplit(key)
        if parts.hostname:
            host = parts.hostname
            if ":" in host:
                host = f"[{host}]"
            return f"{host}:{parts.port}" if parts.port else host
    return key.partition("/")[0]


def _decode_auth(value: str, key: str, path: Path) -> tuple[str, str]:
    """docker's ``decodeAuth``: base64 of ``user:password``."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise RegistryError(
            f"invalid auth configuration file {path}", f"auths[{key!r}].auth is not base64 ({e})"
        ) from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise RegistryError(
            f"invalid auth configuration file {path}", f"auths[{key!r}].auth is not base64 of user:password"
        )
    return user, password.strip("\x00")


def default_config_path() -> Path:
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


class DockerConfig:
    """A loaded docker ``config.json``; :meth:`credentials` answers per registry host.

    Helper answers are cached for the life of the object (helpers such as
    ecr-login are slow, and a build asks for the same host many times).
    """

    def __init__(
        self,
        auths: Mapping[str, Credentials] | None = None,
        creds_store: str = "",
        cred_helpers: Mapping[str, str] | None = None,
        path: Path | None = None,
    ) -> None:
        self.auths: dict[str, Credentials] = dict(auths or {})
        self.creds_store = creds_store
        self.cred_helpers: dict[str, str] = dict(cred_helpers or {})
        self.path = path
        self._cache: dict[str, Credentials] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | str | None = None) -> DockerConfig:
        """Read ``path`` (default: docker's location); a missing file is an empty config."""
        file = Path(path) if path is not None else default_config_path()
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path=file)
        except OSError as e:
            raise RegistryError(f"cannot read docker config {file}", str(e)) from None
        if not text.strip():
            return cls(path=file)
        try:
            data = json.loads(text)
        except ValueError as e:
            raise RegistryError(f"invalid docker config {file}", str(e)) from None
        if not isinstance(data, dict):
            raise RegistryError(f"invalid docker config {file}", "the top level is not a JSON object")
        return cls.from_dict(data, file)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> DockerConfig:
        where = path or Path("config.json")
        auths: dict[str, Credentials] = {}
        raw_auths = data.get("auths")
        raw_auths = {} if raw_auths is None else raw_auths
        if not isinstance(raw_auths, dict):
            raise RegistryError(f"invalid docker config {where}", "auths is not an object")
        for key, entry in raw_auths.items():
            if not isinstance(entry, dict):
                raise RegistryError(f"invalid docker config {where}", f"auths[{key!r}] is not an object")
            username = str(entry.get("username") or "")
            password = str(entry.get("password") or "")
            if entry.get("auth"):
                username, password = _decode_auth(str(entry["auth"]), key, where)
            auths[key] = Credentials(
                username=username,
                password=password,
                identity_token=str(entry.get("identitytoken") or ""),
                registry_token=str(entry.get("registrytoken") or ""),
            )
        helpers = data.get("credHelpers")
        helpers = {} if helpers is None else helpers
        if not isinstance(helpers, dict):
            raise RegistryError(f"invalid docker config {where}", "credHelpers is not an object")
        return cls(
            auths, str(data.get("credsStore") or ""), {str(k): str(v) for k, v in helpers.items()}, path
        )

    def credentials(self, registry: str) -> Credentials:
        """Credentials for a registry host (``docker.io``, ``ghcr.io``, ``127.0.0.1:5000``)."""
        key = auth_key(registry)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        helper = self.cred_helpers.get(key) or self.creds_store
        creds = self._from_helper(helper, key) if helper else self._from_file(key)
        with self._lock:
            self._cache[key] = creds
        return creds

    def _from_file(self, key: str) -> Credentials:
        if key in self.auths:
            return self.auths[key]
        for stored, creds in self.auths.items():
            if _hostname(stored) == key:
                return creds
        return Credentials()

    def _from_helper(self, helper: str, key: str) -> Credentials:
        program = f"docker-credential-{helper}"
        try:
            proc = subprocess.run(
                [program, "get"],
                input=key.encode(),
                capture_output=True,
                timeout=_HELPER_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise RegistryError(
                f"cannot get credentials for {key}: credential helper {program} is not installed",
                f"{program} was not found in PATH (configured in {self.path or 'the docker config'})",
                registry=key,
            ) from None
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RegistryError(
                f"cannot get credentials for {key} from {program}", str(e), registry=key
            ) from None
        out = proc.stdout.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if out == _NOT_FOUND_MESSAGE:
                return Credentials()
            message = out or proc.stderr.decode("utf-8", "replace").strip()
            raise RegistryError(
                f"cannot get credentials for {key} from {program}",
                f"exit status {proc.returncode}: {message}",
                registry=key,
            )
        try:
            answer = json.loads(out)
            username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
        except (ValueError, AttributeError):
            raise RegistryError(
                f"cannot get credentials for {key} from {program}",
                "its answer is not a JSON object",
                registry=key,
            ) from None
        if username == _TOKEN_USERNAME:
            return Credentials(identity_token=secret)
        return Credentials(username=username, password=secret)
