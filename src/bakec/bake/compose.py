"""Compose files as bake sees them (buildx ``bake/compose.go`` over compose-go v2).

Pipeline, as compose-go runs it for bake: each YAML file is parsed (YAML 1.2
scalars), interpolated with the environment (``.env`` in the working directory
fills in what the environment lacks), and merged into the previous ones with
compose's override rules. Only ``services.*.{image,build,environment,env_file}``
and the top-level ``secrets`` survive; that filtered document is checked
against the relevant part of the compose schema, and every service with a
``build`` section becomes a raw :class:`Target` (finalize-stage defaults and
normalisation, e.g. the ``network.host`` entitlement, happen later).

Errors found while checking a single file (YAML, interpolation, schema,
``empty compose file``) are reported bare, as buildx does while classifying
files; errors found while mapping the merged project carry buildx's
``failed to parse compose file: `` prefix.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import yaml

from bakec.bake.model import Group, Target
from bakec.bake.options import dedupe_equal, dedupe_keyed, parse_entries
from bakec.bake.yamlload import load_all
from bakec.errors import SpecError
from bakec.util.golang import maybe_bool
from bakec.util.units import bytes_size, ram_in_bytes

__all__ = [
    "ComposeResult",
    "compose_env",
    "is_compose_document",
    "load_compose",
    "looks_like_compose",
    "validate_compose",
]

_PARSE_PREFIX = "failed to parse compose file: "
_TARGET_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


@attrs.define(slots=True)
class ComposeResult:
    """Targets (one per build service) and the ``default`` group, before finalize."""

    targets: dict[str, Target] = attrs.field(factory=dict)
    groups: dict[str, Group] = attrs.field(factory=dict)


# --------------------------------------------------------------------------- public API


def load_compose(
    files: list[tuple[str, bytes]],
    env: Mapping[str, str],
    cwd: str,
    overrides: Mapping[str, str] | None = None,
) -> ComposeResult:
    """Parse and merge compose files ``(name, data)`` into raw bake targets.

    ``env`` is the process environment; ``overrides`` (``--var`` values) win
    over it and over ``.env`` in ``cwd``.
    """
    envs = compose_env(env, cwd, overrides)
    for name, data in files:
        validate_compose(data, name, envs, cwd)
    merged: dict[str, Any] = {}
    try:
        for name, data in files:
            merged = _merge(merged, _load_file(data, name, envs, cwd), ())
        filtered = _filter(merged)
        _validate_schema(filtered)
        return _to_bake(filtered, envs, cwd)
    except SpecError as err:
        raise SpecError(_PARSE_PREFIX + err.summary, err.detail) from err


def validate_compose(data: bytes, name: str, env: Mapping[str, str], cwd: str = ".") -> None:
    """Check one file alone as buildx does while classifying it (errors unprefixed)."""
    _validate_schema(_filter(_load_file(data, name, env, cwd)))


def is_compose_document(data: bytes, env: Mapping[str, str] | None = None, cwd: str = ".") -> bool:
    """Whether ``data`` loads as a usable compose file on its own."""
    try:
        validate_compose(data, "", env or {}, cwd)
    except SpecError:
        return False
    return True


def looks_like_compose(
    name: str, data: bytes, env: Mapping[str, str], cwd: str = "."
) -> tuple[bool, SpecError | None]:
    """Classify a bake file as buildx does: ``(is_compose, compose_error)``.

    ``.yml``/``.yaml`` are compose whatever happens (the error is the file's
    error); ``.json``/``.hcl`` never are; anything else is compose only if it
    loads, and the error is returned so a later HCL failure can mention both.
    """
    lower = name.lower()
    if lower.endswith((".json", ".hcl")):
        return False, None
    try:
        validate_compose(data, name, env, cwd)
    except SpecError as err:
        return lower.endswith((".yml", ".yaml")), err
    return True, None


def compose_env(
    env: Mapping[str, str], cwd: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The interpolation environment: ``env``, then ``cwd/.env`` for unset keys, then overrides."""
    envs = dict(env)
    path = os.path.join(cwd, ".env")
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            values = parse_dotenv(fh.read().decode("utf-8"), lambda key: envs.get(key))
        for key, value in values.items():
            envs.setdefault(key, value)
    if overrides:
        envs.update(overrides)
    return envs


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, as go-yaml v3 reads them (``yes`` stays a string)."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "tag:yaml.org,2002:int",
        r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$",
        list("-+0123456789"),
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
]:
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float | str:
    """Go's ``strconv.ParseInt(s, 0, 64)`` (``010`` is octal), falling back to float, then string."""
    text = str(loader.construct_scalar(node))
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    bases = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
    try:
        if digits[:2] in bases:
            return sign * int(digits[2:], bases[digits[:2]])
        if len(digits) > 1 and digits.startswith("0"):
            return sign * int(digits[1:], 8)
        return sign * int(digits, 10)
    except ValueError:
        pass
    try:
        return float(plain)
    except ValueError:
        return text


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Like go-yaml v3, a key defined twice in one mapping is an error."""
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise SpecError(
                f'yaml: unmarshal errors:\n  line {line}: mapping key "{key}" already defined at line {seen[key]}'
            )
        if isinstance(key, (str, int, float, bool)):
            seen[key] = line
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _load_file(
    data: bytes, name: str, env: Mapping[str, str], cwd: str = ".", seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One file: every YAML document interpolated, ``extends`` applied, merged in order."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SpecError(f"{name}:{line}: invalid UTF-8 in compose file") from None
    try:
        docs = load_all(text, _Loader)
    except yaml.YAMLError as err:
        raise SpecError(f"yaml: {_yaml_message(err)}") from err
    merged: dict[str, Any] = {}
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise SpecError("Top-level object must be a mapping")
        doc = _interpolate(_stringify_keys(doc), (), env)
        _apply_extends(doc, name, env, cwd, (*seen, name))
        merged = _merge(merged, doc, ())
        merged.pop("version", None)
    return merged


def _apply_extends(
    doc: dict[str, Any], name: str, env: Mapping[str, str], cwd: str, seen: tuple[str, ...]
) -> None:
    """Resolve ``services.*.extends`` (same file or another file) for the keys bake reads."""
    services = doc.get("services")
    if not isinstance(services, dict):
        return
    done: set[str] = set()

    def resolve(svc_name: str, chain: tuple[str, ...]) -> Any:
        svc = services.get(svc_name)
        if svc_name in done or not isinstance(svc, dict) or "extends" not in svc:
            return svc
        if svc_name in chain:
            raise SpecError(f"Circular reference with extends: {' -> '.join((*chain, svc_name))}")
        ext = svc["extends"]
        base_name, base_file = (ext, None) if isinstance(ext, str) else (ext.get("service"), ext.get("file"))
        if base_file:
            path = (
                posixpath.join(posixpath.dirname(name), base_file)
                if not base_file.startswith("/")
                else base_file
            )
            if path in seen:
                raise SpecError(f"Circular reference with extends: {' -> '.join((*seen, path))}")
            try:
                with open(os.path.join(cwd, path), "rb") as fh:
                    other = _load_file(fh.read(), path, env, cwd, seen)
            except OSError as err:
                raise SpecError(f"open {path}: {err.strerror.lower() if err.strerror else err}") from None
            base = (other.get("services") or {}).get(base_name)
        else:
            base = resolve(base_name, (*chain, svc_name))
        if not isinstance(base, dict):
            raise SpecError(f"cannot extend service {svc_name!r} in {name}: service {base_name!r} not found")
        own = {k: v for k, v in svc.items() if k != "extends"}
        services[svc_name] = _merge(
            {k: v for k, v in base.items() if k != "extends"}, own, ("services", svc_name)
        )
        done.add(svc_name)
        return services[svc_name]

    for svc_name in list(services):
        resolve(svc_name, ())


_YAML_PROBLEMS = [
    (r"^mapping values are not allowed here$", "mapping values are not allowed in this context"),
    (r"^found character .* that cannot start any token$", "found character that cannot start any token"),
    (r"^expected <block end>, but found '\?'$", "did not find expected '-' indicator"),
    (r"^expected <block end>, but found .*$", "did not find expected key"),
    (r"^expected ',' or '\]', but got .*$", "did not find expected ',' or ']'"),
    (r"^expected ',' or '}', but got .*$", "did not find expected ',' or '}'"),
    (r"^found undefined alias '(.*)'$", r"unknown anchor '\1' referenced"),
]


def _yaml_message(err: yaml.YAMLError) -> str:
    """PyYAML's error in go-yaml v3's words and (quirky) line numbering."""
    problem = getattr(err, "problem", None) or str(err)
    for pattern, replacement in _YAML_PROBLEMS:
        if re.match(pattern, problem):
            problem = re.sub(pattern, replacement, problem)
            break
    scanner = isinstance(err, yaml.scanner.ScannerError)
    line = 0
    for mark in (getattr(err, "context_mark", None), getattr(err, "problem_mark", None)):
        if mark is not None and mark.line != 0:
            line = mark.line + (1 if scanner else 0)
            break
    return f"line {line}: {problem}" if line else problem


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_scalar_text(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _scalar_text(value: Any) -> str:
    """A scalar as Go's ``fmt.Sprint`` shows it (how compose-go stringifies numbers and bools)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)``: shortest digits, exponent outside [1e-4, 1e6)."""
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    exp = len(digits) + int(exponent) - 1
    prefix = "-" if value < 0 else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{prefix}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{prefix}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{prefix}{digits[: exp + 1]}.{digits[exp + 1 :]}"


# --------------------------------------------------------------------------- interpolation

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


def _interpolate(value: Any, path: tuple[str, ...], env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, "[]"), env) for v in value]
    if isinstance(value, str):
        try:
            return substitute(value, env.get)
        except _TemplateError as err:
            if err.required:
                raise SpecError(f"error while interpolating {'.'.join(path)}: {err}") from None
            raise SpecError(
                f"invalid interpolation format for {'.'.join(path)}.\n"
                f"You may need to escape any $ with another $.\n{value}"
            ) from None
    return value


class _TemplateError(Exception):
    def __init__(self, message: str, required: bool = False) -> None:
        super().__init__(message)
        self.required = required


def substitute(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand compose's ``$VAR``/``${VAR...}`` forms; ``$$`` is a literal ``$``."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise _TemplateError(f"Invalid template: {text!r}")
            out.append(_braced(text[i + 2 : end], lookup, text))
            i = end + 1
        else:
            match = _NAME.match(text, i + 1)
            if match is None:
                out.append("$")
                i += 1
                continue
            out.append(lookup(match.group(0)) or "")
            i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(body: str, lookup: Callable[[str], str | None], whole: str) -> str:
    match = _NAME.match(body)
    if match is None:
        raise _TemplateError(f"Invalid template: {whole!r}")
    name = match.group(0)
    rest = body[match.end() :]
    value = lookup(name)
    if rest == "":
        return value or ""
    colon = rest.startswith(":")
    op = rest[1:2] if colon else rest[:1]
    arg = rest[2:] if colon else rest[1:]
    if op not in ("-", "?", "+"):
        raise _TemplateError(f"Invalid template: {whole!r}")
    present = value is not None and (value != "" or not colon)
    if op == "-":
        return value if present else substitute(arg, lookup)  # type: ignore[return-value]
    if op == "+":
        return substitute(arg, lookup) if present else ""
    if not present:
        message = substitute(arg, lookup)
        suffix = f": {message}" if message else ""
        raise _TemplateError(f"required variable {name} is missing a value{suffix}", required=True)
    return value  # type: ignore[return-value]


# --------------------------------------------------------------------------- .env files


def parse_dotenv(text: str, lookup: Callable[[str], str | None]) -> dict[str, str]:
    """Parse a ``.env``/``env_file`` body (quotes, ``export``, comments, ``${VAR}`` expansion)."""
    values: dict[str, str] = {}

    def resolve(key: str) -> str | None:
        found = lookup(key)
        return found if found is not None else values.get(key)

    i = 0
    n = len(text)
    while i < n:
        # skip blank space and comment lines
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        if text[i] == "#":
            i = _line_end(text, i)
            continue
        end = _line_end(text, i)
        line = text[i:end]
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
            i += len(text[i:end]) - len(line)
        sep = _first_of(line, "=:")
        if sep < 0:
            key = line.strip()
            found = lookup(key)
            if key and found is not None:
                values[key] = found
            i = end
            continue
        key = line[:sep].strip()
        start = i + sep + 1
        while start < n and text[start] in " \t":
            start += 1
        if start < n and text[start] in "'\"":
            quote = text[start]
            close = start + 1
            while close < n and text[close] != quote:
                close += 2 if quote == '"' and text[close] == "\\" else 1
            raw = text[start + 1 : close]
            if quote == '"':
                raw = _unescape(raw)
                raw = substitute(raw.replace("\\$", "\x00"), resolve).replace("\x00", "$")
            values[key] = raw
            i = _line_end(text, close + 1 if close < n else n)
        else:
            raw = text[start:end]
            comment = raw.find(" #")
            if comment >= 0:
                raw = raw[:comment]
            values[key] = substitute(raw.strip(), resolve)
            i = end
    return values


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _first_of(text: str, chars: str) -> int:
    hits = [text.find(c) for c in chars if c in text]
    return min(hits) if hits else -1


def _unescape(raw: str) -> str:
    table = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
    return re.sub(r"\\(.)", lambda m: table.get(m.group(1), "\\" + m.group(1)), raw)


# --------------------------------------------------------------------------- merging files

_SEQUENCE_MERGED = {
    ("services", "*", "build", "args"),
    ("services", "*", "build", "labels"),
    ("services", "*", "build", "additional_contexts"),
    ("services", "*", "environment"),
    ("services", "*", "env_file"),
}
_UNIQUE_LISTS = {("services", "*", "build", "tags")}  # compose-go's "build.platform" entry matches nothing


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(path) == len(pattern) and all(p == "*" or p == q for p, q in zip(pattern, path, strict=True))


def _merge(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    """compose-go's ``override.Merge`` for the keys bake reads."""
    if over is None:
        return base
    if base is None:
        return over
    if _matches(path, ("services", "*", "build")):
        return _merge_mappings(_build_mapping(base), _build_mapping(over), path)
    if any(_matches(path, p) for p in _SEQUENCE_MERGED):
        return _unique_by_key(_as_sequence(base) + _as_sequence(over))
    if _matches(path, ("services", "*", "build", "extra_hosts")):
        merged = _hosts_mapping(base)
        for host, ips in _hosts_mapping(over).items():
            known = merged.setdefault(host, [])
            known.extend(ip for ip in ips if ip not in known)
        return merged
    if isinstance(base, dict):
        if not isinstance(over, dict):
            raise SpecError(f"cannot override {'.'.join(path)}")
        return _merge_mappings(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        merged_list = base + over
        if any(_matches(path, p) for p in _UNIQUE_LISTS):
            merged_list = list(dict.fromkeys(merged_list))
        return merged_list
    return over


def _merge_mappings(base: dict[str, Any], over: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value, (*path, key)) if key in out else value
    return out


def _build_mapping(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return sorted(k if v is None else f"{k}={_scalar_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return list(value)
    return [value]


def _unique_by_key(items: list[Any]) -> list[Any]:
    index: dict[str, int] = {}
    out: list[Any] = []
    for item in items:
        key = item.split("=", 1)[0] if isinstance(item, str) else repr(item)
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def _hosts_mapping(value: Any) -> dict[str, list[str]]:
    """extra_hosts in either form as ``host -> [ip, ...]``."""
    out: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for host, ips in value.items():
            out[host] = [_scalar_text(ip) for ip in ips] if isinstance(ips, list) else [_scalar_text(ips)]
        return out
    for entry in value or []:
        text = _scalar_text(entry)
        host, sep, ip = text.partition("=")
        if not sep:
            host, sep, ip = text.partition(":")
        if not sep:
            raise SpecError(f"invalid additional host, missing IP: {text}")
        out.setdefault(host.strip(), []).append(ip.strip())
    return out


# --------------------------------------------------------------------------- filtering and schema


def _filter(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep only what bake reads; nothing left is ``empty compose file``."""
    filtered: dict[str, Any] = {}
    services = doc.get("services")
    if isinstance(services, dict):
        kept: dict[str, Any] = {}
        for name, svc in services.items():
            if svc is None:
                kept[name] = {}
            elif isinstance(svc, dict):
                kept[name] = {k: svc[k] for k in ("image", "build", "environment", "env_file") if k in svc}
        filtered["services"] = kept
    if "secrets" in doc:
        filtered["secrets"] = doc["secrets"]
    if not filtered:
        raise SpecError("empty compose file")
    return filtered


# A small schema language for the part of compose-spec.json that survives _filter.
_STRING = ("string",)
_BOOLISH = ("boolean", "string")
_LIST_OF_STRINGS = ("list", _STRING)
_LIST_OR_DICT = ("list_or_dict",)
_BUILD_PROPS: dict[str, Any] = {
    "context": _STRING,
    "dockerfile": _STRING,
    "dockerfile_inline": _STRING,
    "entitlements": _LIST_OF_STRINGS,
    "args": _LIST_OR_DICT,
    "ssh": _LIST_OR_DICT,
    "labels": _LIST_OR_DICT,
    "cache_from": _LIST_OF_STRINGS,
    "cache_to": _LIST_OF_STRINGS,
    "no_cache": _BOOLISH,
    "additional_contexts": _LIST_OR_DICT,
    "network": _STRING,
    "provenance": _BOOLISH,
    "sbom": _BOOLISH,
    "pull": _BOOLISH,
    "target": _STRING,
    "shm_size": ("integer", "string"),
    "extra_hosts": ("extra_hosts",),
    "isolation": _STRING,
    "privileged": _BOOLISH,
    "secrets": ("service_secrets",),
    "tags": _LIST_OF_STRINGS,
    "ulimits": ("ulimits",),
    "platforms": _LIST_OF_STRINGS,
}
_SERVICE_SECRET_PROPS = {"source", "target", "uid", "gid", "mode"}
_SECRET_PROPS = {
    "name",
    "environment",
    "file",
    "external",
    "labels",
    "driver",
    "driver_opts",
    "template_driver",
}
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _human(types: tuple[str, ...]) -> str:
    names = ["mapping" if t == "object" else "list" if t == "array" else t for t in types]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _want(path: str, value: Any, *types: str) -> None:
    actual = _type_name(value)
    if actual in types or (actual == "integer" and "number" in types):
        return
    raise SpecError(f"{path} must be a {_human(types)}")


def _no_extra(path: str, mapping: dict[str, Any], allowed: set[str] | dict[str, Any]) -> None:
    extra = [k for k in mapping if k not in allowed and not (k.startswith("x-") and path != "services")]
    if extra:
        names = ", ".join(f"'{k}'" for k in extra)
        raise SpecError(f"{path} additional properties {names} not allowed")


def _validate_schema(doc: dict[str, Any]) -> None:
    services = doc.get("services")
    if "services" in doc:
        _want("services", services, "object")
        _no_extra("services", services, {k for k in services if _SERVICE_NAME.match(k)})
        for name, svc in services.items():
            base = f"services.{name}"
            _want(base, svc, "object")
            if "image" in svc:
                _want(f"{base}.image", svc["image"], "string")
            if "environment" in svc:
                _check_list_or_dict(f"{base}.environment", svc["environment"])
            if "env_file" in svc:
                _check_env_file(f"{base}.env_file", svc["env_file"])
            if "build" in svc:
                _check_build(f"{base}.build", svc["build"])
    if "secrets" in doc:
        secrets = doc["secrets"]
        _want("secrets", secrets, "object")
        for name, secret in secrets.items():
            base = f"secrets.{name}"
            _want(base, secret, "object")
            _no_extra(base, secret, _SECRET_PROPS)
            for key in ("name", "environment", "file", "driver", "template_driver"):
                if key in secret:
                    _want(f"{base}.{key}", secret[key], "string")


def _check_build(path: str, build: Any) -> None:
    _want(path, build, "string", "object")
    if isinstance(build, str):
        return
    _no_extra(path, build, _BUILD_PROPS)
    for key, spec in _BUILD_PROPS.items():
        if key not in build:
            continue
        value = build[key]
        where = f"{path}.{key}"
        kind = spec[0]
        if kind == "list":
            _want(where, value, "array")
            for i, item in enumerate(value):
                _want(f"{where}.{i}", item, "string")
        elif kind == "list_or_dict":
            _check_list_or_dict(where, value)
        elif kind == "extra_hosts":
            _check_list_or_dict(where, value, "array")
        elif kind == "service_secrets":
            _want(where, value, "array")
            for i, item in enumerate(value):
                _want(f"{where}.{i}", item, "string", "object")
                if isinstance(item, dict):
                    _no_extra(f"{where}.{i}", item, _SERVICE_SECRET_PROPS)
        elif kind == "ulimits":
            _want(where, value, "object")
            for name, limit in value.items():
                _want(f"{where}.{name}", limit, "integer", "string", "object")
                if isinstance(limit, dict):
                    _no_extra(f"{where}.{name}", limit, {"hard", "soft"})
                    missing = [k for k in ("hard", "soft") if k not in limit]
                    if missing:
                        names = ", ".join(f"'{k}'" for k in missing)
                        plural = "properties" if len(missing) > 1 else "property"
                        raise SpecError(f"{where}.{name} missing {plural} {names}")
        else:
            _want(where, value, *spec)


def _check_list_or_dict(path: str, value: Any, *extra_value_types: str) -> None:
    _want(path, value, "object", "array")
    if isinstance(value, dict):
        for key, item in value.items():
            _want(f"{path}.{key}", item, "string", "number", "boolean", "null", *extra_value_types)
    else:
        for i, item in enumerate(value):
            _want(f"{path}.{i}", item, "string")


def _check_env_file(path: str, value: Any) -> None:
    _want(path, value, "string", "array")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _want(f"{path}.{i}", item, "string", "object")


# --------------------------------------------------------------------------- compose -> bake


def _to_bake(doc: dict[str, Any], env: Mapping[str, str], cwd: str) -> ComposeResult:
    result = ComposeResult()
    services = doc.get("services") or {}
    if not services:
        return result
    secrets = doc.get("secrets") or {}
    for service_name, svc in services.items():
        # compose-go reads every service's env_file, built or not (a missing one fails)
        environment = _service_environment(svc, env, cwd)
        if svc.get("build") is None:
            continue
        name = service_name.replace(".", "_")
        if not _TARGET_NAME.match(name):
            raise SpecError(f'invalid service name "{name}": only "[a-zA-Z0-9_-]+" are allowed')
        result.targets[name] = _target(
            name, service_name, svc, _build_mapping(svc["build"]), secrets, environment, env
        )
    result.groups["default"] = Group(name="default", targets=sorted(result.targets))
    return result


def _target(
    name: str,
    service_name: str,
    svc: dict[str, Any],
    build: dict[str, Any],
    secrets: dict[str, Any],
    environment: dict[str, str | None],
    env: Mapping[str, str],
) -> Target:
    t = Target(name=name)
    context = build.get("context", ".")
    if context:
        t.context = _context_path(context)
    t.dockerfile = build.get("dockerfile") or None
    t.dockerfile_inline = build.get("dockerfile_inline") or None
    if build.get("additional_contexts") is not None:
        t.contexts = _named_contexts(
            {
                k: _context_path(v)
                for k, v in _kv_mapping(build["additional_contexts"]).items()
                if v is not None
            }
        )
    shm = build.get("shm_size")
    if shm is not None:
        size = _ram_in_bytes(shm)
        if size > 0:
            t.shm_size = bytes_size(size)
    if build.get("network"):
        t.network = build["network"]
    if build.get("ulimits") is not None:
        t.ulimits = [_ulimit(k, v) for k, v in build["ulimits"].items()]
    hosts = _hosts_mapping(build.get("extra_hosts") or {})
    t.extra_hosts = {host: ",".join(ips) for host, ips in hosts.items()} or None
    if build.get("ssh") is not None:
        t.ssh = sorted(_ssh_keys(build["ssh"]), key=_ssh_order)
    if build.get("secrets"):
        t.secret = [_secret(service_name, item, secrets) for item in build["secrets"]]
    labels = _kv_mapping(build.get("labels") or {})
    t.labels = {k: "" if v is None else v for k, v in labels.items()} or None
    t.cache_from = parse_entries("cache-from", build.get("cache_from") or []) or None
    t.cache_to = parse_entries("cache-to", build.get("cache_to") or []) or None
    attest = [_canonical_attest(kind, build[kind]) for kind in ("sbom", "provenance") if kind in build]
    t.attest = parse_entries("attest", attest) or None
    if _truthy(build.get("no_cache")):
        t.no_cache = True
    if _truthy(build.get("pull")):
        t.pull = True
    t.tags = list(build["tags"]) if build.get("tags") else None
    t.platforms = list(build["platforms"]) if build.get("platforms") else None
    args = {}
    for key, value in _kv_mapping(build.get("args") or {}).items():
        if value is None:
            value = environment.get(key)
            if value is None:
                value = env.get(key)
        if value is not None:
            args[key] = value
    t.args = args or None
    x_bake = build.get("x-bake")
    if x_bake:
        _apply_x_bake(t, x_bake)
    if build.get("target"):
        t.target = build["target"]
    if not t.tags and svc.get("image"):
        t.tags = [svc["image"]]
    return t


def _truthy(value: Any) -> bool:
    """A compose boolean that may have been written (or interpolated) as a string."""
    if isinstance(value, str):
        return maybe_bool(value) is True
    return bool(value)


def _kv_mapping(value: Any) -> dict[str, str | None]:
    """A compose list-or-dict as ``key -> value`` (``None`` when no value was given)."""
    if isinstance(value, dict):
        return {k: None if v is None else _scalar_text(v) for k, v in value.items()}
    out: dict[str, str | None] = {}
    for item in value:
        key, sep, val = str(item).partition("=")
        out[key] = val if sep else None
    return out


def _relative(path: str) -> str:
    """compose-go's path resolution with an empty working dir: ``~`` expanded, relative paths cleaned."""
    if path.startswith("~"):
        path = os.path.expanduser(path)
    if path.startswith("/"):
        return path
    return posixpath.normpath(path)


_REMOTE_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def _context_path(path: str) -> str:
    if "://" in path or path.startswith("service:") or path.startswith(_REMOTE_PREFIXES):
        return path
    return _relative(path) if path else path


def _named_contexts(contexts: dict[str, str]) -> dict[str, str]:
    out = {}
    for key, value in contexts.items():
        if value.startswith(("service:", "target:")):
            value = "target:" + value.split(":", 1)[1].replace(".", "_")
        out[key] = value
    return out


def _ssh_order(entry: dict[str, Any]) -> tuple[str, list[str]]:
    """buildx ``SSH.Less``: by id, then paths."""
    return entry.get("id", ""), entry.get("paths", [])


def _ssh_keys(value: Any) -> list[dict[str, Any]]:
    items: list[tuple[str, str | None]] = []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        items = [(k, None if v is None else _scalar_text(v)) for k, v in value.items()]
    else:
        for entry in value:
            key, sep, path = str(entry).partition("=")
            if not sep and key != "default":
                raise SpecError(f'invalid ssh key "{entry}"')
            items.append((key, path if sep else None))
    out: list[dict[str, Any]] = []
    for key, path in items:
        entry: dict[str, Any] = {"id": key}
        if path:
            entry["paths"] = [_relative(path)]
        out.append(entry)
    return out


def _secret(service: str, item: Any, secrets: dict[str, Any]) -> dict[str, str]:
    source = item if isinstance(item, str) else item.get("source", "")
    if source not in secrets:
        raise SpecError(
            f'service "{service}" refers to undefined build secret {source}: invalid compose project'
        )
    top = secrets[source] or {}
    if _truthy(top.get("external")) or isinstance(top.get("external"), dict):
        raise SpecError(f"unsupported external secret {top.get('name', '')}")
    out = {"id": source} if source else {}
    if top.get("file"):
        out["src"] = _relative(top["file"])
    if top.get("environment"):
        out["env"] = top["environment"]
    return out


def _canonical_attest(kind: str, value: Any) -> str:
    text = _scalar_text(value)
    if text == "":
        return ""
    parsed = maybe_bool(text)
    if parsed is not None:
        return f"type={kind},disabled={'false' if parsed else 'true'}"
    return f"type={kind},{text}"


_ULIMIT_NAMES = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}  # fmt: skip


def _ulimit(name: str, value: Any) -> str:
    if isinstance(value, dict):
        soft, hard = int(value.get("soft", 0)), int(value.get("hard", 0))
    else:
        soft = hard = int(value)
    if name not in _ULIMIT_NAMES:
        raise SpecError(f"invalid ulimit type: {name}")
    if soft > hard:
        raise SpecError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return f"{name}={soft}:{hard}"


def _ram_in_bytes(value: Any) -> int:
    """docker/go-units ``RAMInBytes`` (binary multipliers), as compose reads ``shm_size``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return ram_in_bytes(_scalar_text(value))
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _service_environment(svc: dict[str, Any], env: Mapping[str, str], cwd: str) -> dict[str, str | None]:
    """The service's environment: ``env_file`` entries, then ``environment`` (value-less keys from env)."""
    out: dict[str, str | None] = {}
    env_files = svc.get("env_file")
    if env_files is not None:
        for entry in env_files if isinstance(env_files, list) else [env_files]:
            path, required = (
                (entry, True)
                if isinstance(entry, str)
                else (entry.get("path", ""), entry.get("required", True))
            )
            path = _relative(path)
            full = os.path.join(cwd, path)
            if not os.path.isfile(full):
                if _truthy(required):
                    raise SpecError(f"env file {path} not found: stat {path}: no such file or directory")
                continue
            with open(full, "rb") as fh:
                out.update(parse_dotenv(fh.read().decode("utf-8"), env.get))
    for key, value in _kv_mapping(svc.get("environment") or {}).items():
        out[key] = env.get(key) if value is None else value
    return out


# --------------------------------------------------------------------------- x-bake


def _string_array(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_scalar_text(v) for v in value]
    return _scalar_text(value).split()


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _apply_x_bake(t: Target, ext: Any) -> None:
    """Add ``x-bake`` fields to what compose produced (lists append, bools replace)."""
    if not isinstance(ext, dict):
        raise SpecError(f"x-bake: cannot unmarshal {_type_name(ext)} into bake fields")
    get = lambda key: _string_array(ext[key]) if ext.get(key) not in (None, "", []) else []  # noqa: E731
    if tags := get("tags"):
        t.tags = _dedup([*(t.tags or []), *tags])
    if cache_from := get("cache-from"):
        t.cache_from = dedupe_equal([*(t.cache_from or []), *parse_entries("cache-from", cache_from)])
    if cache_to := get("cache-to"):
        t.cache_to = dedupe_equal([*(t.cache_to or []), *parse_entries("cache-to", cache_to)])
    if secret := get("secret"):
        t.secret = dedupe_keyed([*(t.secret or []), *parse_entries("secret", secret)], "id")
    if ssh := get("ssh"):
        merged_ssh = dedupe_keyed([*(t.ssh or []), *parse_entries("ssh", ssh)], "id")
        t.ssh = sorted(merged_ssh, key=_ssh_order)
    if platforms := get("platforms"):
        t.platforms = _dedup([*(t.platforms or []), *platforms])
    if output := get("output"):
        t.output = dedupe_equal([*(t.output or []), *parse_entries("output", output)])
    for key, attr in (("pull", "pull"), ("no-cache", "no_cache")):
        if ext.get(key) is not None:
            value = ext[key]
            setattr(t, attr, value if isinstance(value, bool) else maybe_bool(_scalar_text(value)) or False)
    if no_cache_filter := get("no-cache-filter"):
        t.no_cache_filter = _dedup([*(t.no_cache_filter or []), *no_cache_filter])
    contexts = ext.get("contexts")
    if isinstance(contexts, dict) and contexts:
        merged = dict(t.contexts or {})
        for key, value in _named_contexts({k: _scalar_text(v) for k, v in contexts.items()}).items():
            merged.setdefault(key, value)
        t.contexts = merged
