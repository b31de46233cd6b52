"""Build-option entries and validators, as buildx's ``util/buildflags`` reads them.

Two jobs:

* :func:`parse_entry` / :func:`parse_entries` turn the CSV-or-object forms of
  ``cache-from``, ``cache-to``, ``output``, ``attest``, ``secret``, ``ssh`` and
  ``policy`` into the plain dicts the model stores and ``--print`` shows;
* the ``validate_*`` / ``check_*`` functions reproduce the checks buildx runs
  when it turns a target into build options -- even for ``--print``
  (platforms, shm-size, ulimits, annotations, secret files, ssh keys).

Every error is a :class:`SpecError` whose summary is buildx's own text. Entry
parse errors from a bake file are shown by buildx as an HCL diagnostic
(``Unsuitable value type; Unsuitable value: <summary>``); the evaluator adds
that wrapping and the range, this module only knows the summary.

Stored shapes (what the printer prints):

=============  ====================================================
cache entries  ``{"type": t, **attrs}``
output         ``{"type": t, "dest": d?, **attrs}``
attest         ``{"type": t, "disabled": True?, **attrs}``
secret         ``{"id": i, "src": s?, "env": e?}``
ssh            ``{"id": i, "paths": [...]?}``
policy         ``{"Files", "Reset", "Disabled", "Strict", "LogLevel"}`` (Go names)
resources      ``{"memory": str, "cpu-shares": int, ...}`` in buildx order
=============  ====================================================
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bakec.bake.hcl.values import format_number
from bakec.errors import SpecError
from bakec.util.golang import maybe_bool, parse_bool
from bakec.util.units import ram_in_bytes

CACHE_KEYS = ("cache-from", "cache-to")
ENTRY_KEYS = ("cache-from", "cache-to", "output", "attest", "secret", "ssh", "policy")

# --------------------------------------------------------------------------
# Go helpers


def split_csv(text: str) -> list[str]:
    """Split one CSV record as Go's encoding/csv (``go-csvvalue``) does."""
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                j = text.find('"', i)
                if j < 0:
                    raise SpecError(_csv_error(text, n, 'extraneous or missing " in quoted-field'))
                buf.append(text[i:j])
                if j + 1 < n and text[j + 1] == '"':
                    buf.append('"')
                    i = j + 2
                    continue
                i = j + 1
                if i < n and text[i] != ",":
                    raise SpecError(_csv_error(text, i, 'extraneous or missing " in quoted-field'))
                break
            fields.append("".join(buf))
        else:
            j = text.find(",", i)
            end = n if j < 0 else j
            field = text[i:end]
            quote = field.find('"')
            if quote >= 0:
                raise SpecError(_csv_error(text, i + quote, 'bare " in non-quoted-field'))
            fields.append(field)
            i = end
        if i >= n:
            return fields
        i += 1  # the comma


def _csv_error(text: str, index: int, what: str) -> str:
    return f"parse error on line 1, column {index + 1}: {what}"


def _to_string(value: Any, key: str) -> str:
    """cty's conversion of a primitive attribute value to string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return format_number(Decimal(value))
    raise SpecError(f'Invalid value for "{key}": string required')


def _is_empty(item: Any) -> bool:
    return item is None or item == ""


# --------------------------------------------------------------------------
# entries


def parse_entries(bake_name: str, items: Iterable[Any]) -> list[dict[str, Any]]:
    """Parse a whole list attribute: empty items are skipped, and a cache string
    without ``=`` may hold several comma-separated refs (one entry each)."""
    out: list[dict[str, Any]] = []
    for item in items:
        if _is_empty(item):
            continue
        if bake_name in CACHE_KEYS and isinstance(item, str) and "=" not in item:
            out.extend(_parse_cache_text(field) for field in split_csv(item))
            continue
        out.append(parse_entry(bake_name, item))
    return out


def parse_entry(bake_name: str, item: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse one entry of ``bake_name`` from its CSV string or object form."""
    try:
        parser = _PARSERS[bake_name]
    except KeyError:
        raise ValueError(f"{bake_name} has no entry form") from None
    return parser(item)


def _parse_cache(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        return _parse_cache_text(item)
    attrs = {k: _to_string(v, k) for k, v in item.items() if v is not None}
    typ = attrs.pop("type", "")
    if not typ:
        raise SpecError(f"type required for {_go_quote(_cty_json(item))}")
    return {"type": typ, **attrs}


def _parse_cache_text(text: str) -> dict[str, Any]:
    fields = split_csv(text)
    if len(fields) == 1 and "=" not in fields[0]:
        return {"type": "registry", "ref": fields[0]}
    typ = ""
    attrs: dict[str, str] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise SpecError(f"invalid value {field}")
        key = key.lower()
        if key == "type":
            typ = value
        else:
            attrs[key] = value
    if not typ:
        raise SpecError(f"type required for {_go_quote(text)}")
    return {"type": typ, **attrs}


def _parse_output(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        return _parse_output_text(item)
    attrs = {k: _to_string(v, k) for k, v in item.items() if v is not None}
    typ = attrs.pop("type", "")
    dest = attrs.pop("dest", "")
    if not typ:
        raise SpecError("type is required for output")
    return _output(typ, dest, attrs)


def _parse_output_text(text: str) -> dict[str, Any]:
    fields = split_csv(text)
    if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
        return _output("tar" if text == "-" else "local", text, {})
    typ, dest = "", ""
    attrs: dict[str, str] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise SpecError(f"invalid value {field}")
        key = key.strip().lower()
        if key == "type":
            typ = value
        elif key == "dest":
            dest = value
        else:
            attrs[key] = value
    if not typ:
        raise SpecError("type is required for output")
    return _output(typ, dest, attrs)


def _output(typ: str, dest: str, attrs: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": typ}
    if dest:
        entry["dest"] = dest
    entry.update(attrs)
    return entry


def _parse_attest(item: str | Mapping[str, Any]) -> dict[str, Any]:
    typ, disabled = "", False
    attrs: dict[str, str] = {}
    if isinstance(item, str):
        for field in split_csv(item):
            key, sep, value = field.partition("=")
            if not sep:
                raise SpecError(f"invalid value {field}")
            norm = key.strip().lower()
            if norm == "type":
                typ = value
            elif norm == "disabled":
                try:
                    disabled = parse_bool(value)
                except ValueError as exc:
                    raise SpecError(f"invalid value {field}: {exc}") from None
            else:
                attrs[key] = value
        if not typ:
            raise SpecError("attestation type not specified")
    else:
        for key, raw in item.items():
            if raw is None:
                continue
            value = _to_string(raw, key)
            if key == "type":
                typ = value
            elif key == "disabled":
                try:
                    disabled = parse_bool(value)
                except ValueError as exc:
                    raise SpecError(str(exc)) from None
            else:
                attrs[key] = value
    entry: dict[str, Any] = {"type": typ}
    if disabled:
        entry["disabled"] = True
    entry.update(attrs)
    return entry


def _parse_secret(item: str | Mapping[str, Any]) -> dict[str, Any]:
    sid = src = env = ""
    if isinstance(item, str):
        typ = ""
        for field in split_csv(item):
            key, sep, value = field.partition("=")
            key = key.lower()
            if not sep:
                raise SpecError(f"invalid field '{field}' must be a key=value pair")
            if key == "type":
                if value not in ("file", "env"):
                    raise SpecError(f"unsupported secret type {_go_quote(value)}")
                typ = value
            elif key == "id":
                sid = value
            elif key in ("source", "src"):
                src = value
            elif key == "env":
                env = value
            else:
                raise SpecError(f"unexpected key '{key}' in '{field}'")
        if typ == "env" and not env:
            env, src = src, ""
    else:
        for key, raw in item.items():
            if key not in ("id", "src", "env"):
                raise SpecError(f"unexpected key '{key}'")
            if raw is None:
                continue
            value = _to_string(raw, key)
            if key == "id":
                sid = value
            elif key == "src":
                src = value
            else:
                env = value
    return _secret(sid, src, env)


def _secret(sid: str, src: str, env: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if sid:
        entry["id"] = sid
    if src:
        entry["src"] = src
    if env:
        entry["env"] = env
    return entry


def _parse_ssh(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        sid, sep, rest = item.partition("=")
        paths = rest.split(",") if sep else []
    else:
        sid = _to_string(item.get("id") or "", "id")
        raw_paths = item.get("paths")
        if raw_paths is None:
            paths = []
        elif isinstance(raw_paths, list):
            paths = [_to_string(p, "paths") for p in raw_paths]
        else:
            raise SpecError('Invalid value for "paths": list of string required')
    entry: dict[str, Any] = {}
    if sid:
        entry["id"] = sid
    if paths:
        entry["paths"] = paths
    return entry


_LOG_LEVELS = {
    "panic": "panic",
    "fatal": "fatal",
    "error": "error",
    "warn": "warning",
    "warning": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "trace",
}


def _parse_policy(item: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, str):
        return _policy_fields(split_csv(item))
    fields = []
    for key, raw in item.items():
        if raw is None or raw == "":
            continue
        fields.append(f"{key}={_to_string(raw, key)}")
    return _policy_fields(fields)


def _policy_fields(fields: list[str]) -> dict[str, Any]:
    cfg: dict[str, Any] = {"Files": None, "Reset": False, "Disabled": False, "Strict": None, "LogLevel": None}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise SpecError(f"invalid value {field}")
        key = key.strip().lower()
        if key == "filename":
            if not value:
                raise SpecError(f"invalid value {field}")
            cfg["Files"] = [*(cfg["Files"] or []), {"Filename": value, "Data": None}]
        elif key in ("reset", "disabled", "strict"):
            try:
                cfg[key.capitalize()] = parse_bool(value)
            except ValueError as exc:
                raise SpecError(f"invalid value {field}: {exc}") from None
        elif key == "log-level":
            level = _LOG_LEVELS.get(value.lower())
            if level is None:
                raise SpecError(f'invalid value {field}: not a valid logrus Level: "{value}"')
            cfg["LogLevel"] = level
        else:
            raise SpecError(f"invalid value {field}")
    return cfg


_PARSERS = {
    "cache-from": _parse_cache,
    "cache-to": _parse_cache,
    "output": _parse_output,
    "attest": _parse_attest,
    "secret": _parse_secret,
    "ssh": _parse_ssh,
    "policy": _parse_policy,
}


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cty_json(item: Mapping[str, Any]) -> str:
    parts = [f'"{k}":"{_to_string(v, k)}"' for k, v in sorted(item.items()) if v is not None]
    return "{" + ",".join(parts) + "}"


# --------------------------------------------------------------------------
# de-duplication (buildx Normalize)


def dedupe_equal(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """buildx ``removeDupes``: walks backwards and swaps a later duplicate with
    the last element before dropping it, so the order can change."""
    s = list(entries)
    for i in range(len(s) - 2, -1, -1):
        elem = s[i]
        for j in range(i + 1, len(s)):
            if elem == s[j]:
                s[j], s[-1] = s[-1], s[j]
                s.pop()
                break
    return s


def dedupe_keyed(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Keep the first position of each ``key``; a later entry replaces it."""
    out: list[dict[str, Any]] = []
    where: dict[Any, int] = {}
    for entry in entries:
        k = entry.get(key, "")
        if k in where:
            out[where[k]] = entry
        else:
            where[k] = len(out)
            out.append(entry)
    return out


# --------------------------------------------------------------------------
# resources

RESOURCE_KEYS = (
    "memory", "memory-swap", "cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems",
)  # fmt: skip
_INT_RESOURCES = ("cpu-shares", "cpu-period", "cpu-quota")


def normalize_resources(resources: Mapping[str, Any]) -> dict[str, Any]:
    """Put ``resources`` in buildx's field order with its field types."""
    out: dict[str, Any] = {}
    for key in RESOURCE_KEYS:
        value = resources.get(key)
        if value is None:
            continue
        if key in _INT_RESOURCES:
            out[key] = _to_int(value, key)
        else:
            out[key] = _to_string(value, key)
    return out


def set_resource(resources: Mapping[str, Any] | None, name: str, value: str) -> dict[str, Any]:
    """``--set target.resources.NAME=value``."""
    out = dict(resources or {})
    if name not in RESOURCE_KEYS:
        raise SpecError(f"unknown resources key {name}")
    if name in _INT_RESOURCES:
        if not re.fullmatch(r"[+-]?\d+", value) or not -(2**63) <= int(value) < 2**63:
            raise SpecError(f"invalid value {value} for int64 key resources.{name}")
        out[name] = int(value)
    else:
        out[name] = value
    return normalize_resources(out)


def _to_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise SpecError(f'Invalid value for "{key}": number required')
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise SpecError(f'Invalid value for "{key}": a whole number is required')
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise SpecError(f'Invalid value for "{key}": a number is required')


# --------------------------------------------------------------------------
# validators (buildx toBuildOpt)


def parse_mem_bytes(value: str) -> int:
    """docker's ``units.RAMInBytes``; raises with buildx's shm-size message."""
    try:
        return ram_in_bytes(value)
    except ValueError:
        raise SpecError(f"invalid value {value} for membytes key shm-size") from None


_SPECIFIER_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_OS_VERSION_RE = re.compile(r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$")
_KNOWN_OS = {
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
    "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos", "macos",
}  # fmt: skip
_KNOWN_ARCH = {
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
    "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
    "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
    "i386", "i486", "i586", "i686", "x86_64", "x86-64", "aarch64", "armhf", "armel",
}  # fmt: skip


def validate_platforms(platforms: Iterable[str]) -> None:
    """buildx ``platformutil.Parse`` (containerd's parser); printed values stay raw."""
    for item in platforms:
        for spec in item.split(","):
            if spec == "local":
                continue
            _validate_platform(spec)


def _validate_platform(spec: str) -> None:
    if "*" in spec:
        raise SpecError(f"{_go_quote(spec)}: wildcards not yet supported: invalid argument")
    parts = spec.split("/", 3)
    for i, part in enumerate(parts):
        if i == 0:
            match = _OS_VERSION_RE.match(part)
            if not match:
                raise SpecError(
                    f"{_go_quote(part)} is an invalid OS component of {_go_quote(spec)}: OSAndVersion "
                    f"specifier component must match {_go_quote(_OS_VERSION_RE.pattern)}: invalid argument"
                )
            os_name = match.group(1).lower()
        elif not _SPECIFIER_RE.match(part):
            raise SpecError(
                f"{_go_quote(part)} is an invalid component of {_go_quote(spec)}: platform specifier "
                f"component must match {_go_quote(_SPECIFIER_RE.pattern)}: invalid argument"
            )
    if len(parts) == 1:
        if os_name in _KNOWN_OS or parts[0].lower() in _KNOWN_ARCH:
            return
        raise SpecError(f"{_go_quote(spec)}: unknown operating system or architecture: invalid argument")
    if len(parts) > 3:
        raise SpecError(f"{_go_quote(spec)}: cannot parse platform specifier: invalid argument")


_ULIMIT_NAMES = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
}  # fmt: skip


def validate_ulimit(value: str) -> None:
    """docker's ``units.ParseUlimit`` (raises with its messages)."""
    parse_ulimit(value)


def parse_ulimit(value: str) -> tuple[str, int, int]:
    """docker's ``units.ParseUlimit``: ``name=soft[:hard]`` → (name, soft, hard); -1 is unlimited."""
    name, sep, limits = value.partition("=")
    if not sep:
        raise SpecError(f"invalid ulimit argument: {value}")
    if name not in _ULIMIT_NAMES:
        raise SpecError(f"invalid ulimit type: {name}")
    vals = limits.split(":")
    if len(vals) > 2:
        raise SpecError(f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`")
    numbers = [_parse_int64(v) for v in vals]
    soft = numbers[0]
    hard = numbers[1] if len(numbers) == 2 else soft
    if hard != -1 and soft > hard:
        raise SpecError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return name, soft, hard


def _parse_int64(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise SpecError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    number = int(text)
    if not -(2**63) <= number < 2**63:
        raise SpecError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return number


def validate_outputs(outputs: Iterable[Mapping[str, Any]], cwd: str) -> None:
    """buildx ``CreateExports`` checks of output destinations (no file is created;
    writing a tarball to a terminal is only refused at build time)."""
    stdout_used = False
    for entry in outputs:
        typ = entry.get("type", "")
        dest = entry.get("dest", "")
        if not typ:
            raise SpecError("type is required for output")
        to_dir = to_file = False
        if typ == "local":
            to_dir = True
        elif typ == "tar":
            to_file = True
        elif typ in ("oci", "docker"):
            to_file = maybe_bool(entry.get("tar", "")) is not False
            to_dir = not to_file
        if to_dir:
            if not dest:
                raise SpecError(f"dest is required for {typ} exporter")
            if dest == "-":
                raise SpecError(f"dest cannot be stdout for {typ} exporter")
            full = os.path.join(cwd, dest)
            if os.path.exists(full) and not os.path.isdir(full):
                raise SpecError(f"destination directory {dest} is a file")
        if to_file:
            if not dest and typ != "docker":
                dest = "-"
            if dest == "-":
                if stdout_used:
                    raise SpecError("multiple outputs configured to write to stdout")
                stdout_used = True
            elif dest and os.path.isdir(os.path.join(cwd, dest)):
                raise SpecError(f"destination file {dest} is a directory")


_ANNOTATION_TYPE_RE = re.compile(r"^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$")
_ANNOTATION_TYPES = {"index", "index-descriptor", "manifest", "manifest-descriptor"}


def validate_annotations(annotations: Iterable[str]) -> None:
    """buildx ``ParseAnnotations``."""
    for item in annotations:
        if not item:
            continue
        key, sep, _ = item.partition("=")
        if not sep:
            raise SpecError(f"invalid annotation {_go_quote(item)}, expected key=value")
        types, colon, _ = key.partition(":")
        if not colon:
            continue
        for type_and_platform in types.split(","):
            match = _ANNOTATION_TYPE_RE.match(type_and_platform)
            if not match:
                raise SpecError(
                    f"invalid annotation type {_go_quote(type_and_platform)}, "
                    "expected type and optional platform in square brackets"
                )
            if match.group(1) not in _ANNOTATION_TYPES:
                raise SpecError(f"unknown annotation type {_go_quote(match.group(1))}")
            if match.group(2):
                try:
                    _validate_platform(match.group(2))
                except SpecError as err:
                    raise SpecError(f"invalid platform {_go_quote(match.group(2))}: {err.summary}") from None


_MAX_SECRET_SIZE = 500 * 1024


def check_secrets(secrets: Iterable[Mapping[str, Any]], env: Mapping[str, str], cwd: str) -> None:
    """BuildKit's secret store setup: every file source must exist (and be small)."""
    for secret in secrets:
        sid = secret.get("id", "")
        src = secret.get("src", "")
        if not sid:
            raise SpecError("secret missing ID")
        if not src and not secret.get("env"):
            if sid in env:
                continue
            src = sid
        if src:
            try:
                info = os.stat(os.path.join(cwd, src))
            except OSError as err:
                raise SpecError(f"failed to stat {src}: stat {src}: {_os_reason(err)}") from None
            if info.st_size > _MAX_SECRET_SIZE:
                raise SpecError(f"secret {sid} too big. max size 500KB")


def check_ssh(ssh: Iterable[Mapping[str, Any]], env: Mapping[str, str], cwd: str) -> None:
    """BuildKit's ssh agent setup: ``default`` needs ``SSH_AUTH_SOCK``; key files
    must parse as private keys."""
    seen: set[str] = set()
    for entry in ssh:
        sid = entry.get("id", "")
        paths = list(entry.get("paths") or [])
        shown = f"{{{sid} [{' '.join(paths)}] false}}"
        try:
            if not paths or paths == [""]:
                paths = [env.get("SSH_AUTH_SOCK", "")]
            if not paths[0]:
                raise SpecError("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")
            _check_agent_source(paths, cwd)
        except SpecError as err:
            raise SpecError(f"failed to convert agent config {shown}: {err.summary}") from None
        sid = sid or "default"
        if sid in seen:
            raise SpecError(f"invalid duplicate ID {sid}")
        seen.add(sid)


def _check_agent_source(paths: list[str], cwd: str) -> None:
    keys = False
    socket = ""
    for path in paths:
        if socket:
            raise SpecError("only single socket allowed")
        full = os.path.join(cwd, path)
        try:
            info = os.stat(full)
        except OSError as err:
            raise SpecError(f"stat {path}: {_os_reason(err)}") from None
        if stat.S_ISSOCK(info.st_mode):
            if keys:
                raise SpecError("invalid combination of keys and sockets")
            socket = path
            continue
        keys = True
        try:
            with open(full, "rb") as handle:
                data = handle.read(100 * 1024)
        except OSError as err:
            raise SpecError(f"failed to open {path}: open {path}: {_os_reason(err)}") from None
        problem = private_key_problem(data)
        if problem:
            raise SpecError(f"failed to parse {path}: {problem}")


_PEM_KEY_KINDS = (
    b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"DSA PRIVATE KEY", b"PRIVATE KEY", b"OPENSSH PRIVATE KEY",
)  # fmt: skip


def private_key_problem(data: bytes) -> str | None:
    """Why ``data`` is not a usable private key (Go ``ssh.ParseRawPrivateKey``), or None.

    Uses ``cryptography`` when installed; without it only the PEM armour is checked.
    """
    match = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)
    if not match:
        return "ssh: no key found"
    kind = match.group(1)
    if b"ENCRYPTED" in kind or b"Proc-Type: 4,ENCRYPTED" in data:
        return "ssh: this private key is passphrase protected"
    if kind not in _PEM_KEY_KINDS:
        return f'ssh: unsupported key type "{kind.decode()}"'
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return None
    try:
        if kind == b"OPENSSH PRIVATE KEY":
            serialization.load_ssh_private_key(data, password=None)
        else:
            serialization.load_pem_private_key(data, password=None)
    except TypeError:  # the key needs a password
        return "ssh: this private key is passphrase protected"
    except (ValueError, UnsupportedAlgorithm) as err:
        return f"ssh: {err}"
    return None


def _os_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "no such file or directory"
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, NotADirectoryError):
        return "not a directory"
    return (err.strerror or str(err)).lower()
