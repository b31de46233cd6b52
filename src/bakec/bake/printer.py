"""``--print`` JSON and the ``--list`` renderers, byte for byte as buildx writes them.

:func:`print_json` is Go's ``json.MarshalIndent(def, "", "  ")`` plus a newline
over ``{"group": ..., "target": ...}``: target fields in model order, unset or
empty ones omitted (pointer-typed strings and ``pull``/``no-cache`` are printed
whenever set, even ``""``/``false``), map keys sorted, HTML characters escaped
as ``\\u003c`` etc. Values written back as HCL templates (args, labels,
annotations, extra-hosts, dockerfile-inline) re-escape ``${``/``%{``.

:func:`list_targets` / :func:`list_variables` render ``--list`` in ``table``
(Go ``text/tabwriter`` with tab padding) or ``json`` form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from json.encoder import encode_basestring as _encode_str  # C-accelerated, keeps non-ASCII
from typing import Any

from bakec.bake.hcl.values import format_number
from bakec.bake.model import Group, Target, Variable, target_fields
from bakec.bake.options import RESOURCE_KEYS


class Raw(str):
    """Pre-encoded JSON text, emitted verbatim."""


# Fields that are Go pointers (printed whenever set) rather than omitempty strings.
_POINTER_FIELDS = frozenset(
    {"context", "dockerfile", "dockerfile-inline", "target", "network", "shm-size", "call",
     "pull", "no-cache", "resources"}
)  # fmt: skip
_TEMPLATE_FIELDS = frozenset({"args", "labels", "annotations", "extra-hosts", "dockerfile-inline"})
_SORTED_ENTRY_FIELDS = frozenset({"cache-from", "cache-to", "output", "attest"})
_POLICY_DEFAULTS = {"Files": None, "Reset": False, "Disabled": False, "Strict": None, "LogLevel": None}


def print_json(groups: Mapping[str, Group], targets: Mapping[str, Target]) -> str:
    """The exact stdout of ``docker buildx bake --print``."""
    doc: dict[str, Any] = {}
    if groups:
        doc["group"] = {name: group_dict(groups[name]) for name in sorted(groups)}
    doc["target"] = {name: target_dict(targets[name]) for name in sorted(targets)}
    return encode(doc) + "\n"


def group_dict(group: Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if group.description:
        out["description"] = group.description
    out["targets"] = None if group.targets is None else list(group.targets)
    return out


_PRINTED_FIELDS = tuple(
    (f.name, f.metadata["bake"]) for f in target_fields() if f.metadata.get("printed", True)
)


def target_dict(target: Target) -> dict[str, Any]:
    """A target as an ordered dict of its printed fields."""
    out: dict[str, Any] = {}
    for name, bake in _PRINTED_FIELDS:
        value = getattr(target, name)
        if value is None:
            continue
        if bake not in _POINTER_FIELDS and not value and value is not False:
            continue
        out[bake] = _field_value(bake, value)
    return out


def _field_value(bake: str, value: Any) -> Any:
    if bake in _TEMPLATE_FIELDS:
        value = _escape_templates(value)
    if bake in ("args", "labels", "extra-hosts", "contexts"):
        return {k: value[k] for k in sorted(value)}
    if bake in _SORTED_ENTRY_FIELDS:
        return [{k: entry[k] for k in sorted(entry)} for entry in value]
    if bake == "secret":
        return [{k: entry[k] for k in ("id", "src", "env") if entry.get(k)} for entry in value]
    if bake == "ssh":
        return [{k: entry[k] for k in ("id", "paths") if entry.get(k)} for entry in value]
    if bake == "resources":
        return {k: _resource_value(k, value[k]) for k in RESOURCE_KEYS if value.get(k) is not None}
    if bake == "policy":
        return [{k: entry.get(k, _POLICY_DEFAULTS[k]) for k in _POLICY_DEFAULTS} for entry in value]
    return value


def _resource_value(key: str, value: Any) -> Any:
    if key in ("cpu-shares", "cpu-period", "cpu-quota"):
        if isinstance(value, str):
            return Raw(value.strip())
        return value
    if isinstance(value, Decimal):
        return format_number(value)
    return value


def _escape_templates(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, list):
        return [_escape_templates(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape_templates(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------
# Go encoding/json


def encode(value: Any, indent: str = "  ", prefix: str = "") -> str:
    """Go ``json.MarshalIndent`` of plain Python data (dict order is kept)."""
    if indent == "  " and not prefix:
        fast = _encode_with_c_json(value)
        if fast is not None:
            return fast
    return _encode(value, indent, prefix)


class _NeedsGoEncoder(Exception):
    pass


_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _encode_with_c_json(value: Any) -> str | None:
    """The same text built around CPython's C string encoder, when the data allows it.

    Python's and Go's string escapes agree except for HTML-safe escaping, which is
    applied to the whole text afterwards: ``<``, ``>``, ``&``, U+2028 and U+2029
    can only occur inside strings there. Exact numbers (Decimal), raw values and
    undecodable bytes fall back to the Go-faithful encoder.
    """
    try:
        parts: list[str] = []
        _fast_encode(value, "\n", parts)
    except _NeedsGoEncoder:
        return None
    text = "".join(parts)
    if _SURROGATE.search(text):
        return None
    return text.translate(_HTML_ESCAPES)


def _fast_encode(value: Any, newline: str, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_encode_str(value))
    elif kind is dict or kind is list:
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        inner = newline + "  "
        out.append("{" if kind is dict else "[")
        first = True
        if kind is dict:
            if all(type(item) is str for item in value.values()):  # args, labels: one join
                sep = "," + inner
                out.append(inner + sep.join(_encode_str(k) + ": " + _encode_str(v) for k, v in value.items()))
                out.append(newline + "}")
                return
            for key, item in value.items():
                out.append(inner if first else "," + inner)
                first = False
                out.append(_encode_str(key))
                out.append(": ")
                if type(item) is str:
                    out.append(_encode_str(item))
                else:
                    _fast_encode(item, inner, out)
        else:
            if all(type(item) is str for item in value):  # tags, platforms: one join
                out.append(inner + ("," + inner).join(map(_encode_str, value)))
                out.append(newline + "]")
                return
            for item in value:
                out.append(inner if first else "," + inner)
                first = False
                if type(item) is str:
                    out.append(_encode_str(item))
                else:
                    _fast_encode(item, inner, out)
        out.append(newline + ("}" if kind is dict else "]"))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    else:
        raise _NeedsGoEncoder


def _encode(value: Any, indent: str, current: str) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    inner = current + indent
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{go_string(str(k))}: {_encode(v, indent, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + current + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [inner + _encode(v, indent, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + current + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def go_string(text: str) -> str:
    """A JSON string as Go escapes it (HTML-safe, U+2028/U+2029 escaped)."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # an undecodable byte kept by surrogateescape
            out.append("\\ufffd")
        elif ch < " " or ch in "<>&\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def compact(value: Any) -> str:
    """Go ``json.Marshal`` (no indentation) of a cty value: object keys sorted."""
    if value is None or isinstance(value, bool | str | Decimal | int | float):
        return _encode(value, "", "")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_string(str(k))}:{compact(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(compact(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


# --------------------------------------------------------------------------
# --list


def list_targets(groups: Mapping[str, Group], targets: Mapping[str, Target], fmt: str = "table") -> str:
    """``--list targets``: every target and group from the parsed files, sorted,
    ``_``-prefixed names hidden; groups show ``description (members)``."""
    entries: list[tuple[str, Target | None, Group | None]] = [(n, t, None) for n, t in targets.items()]
    entries += [(n, None, g) for n, g in groups.items()]
    entries.sort(key=lambda e: e[0].encode())
    rows: list[list[str]] = [["TARGET", "DESCRIPTION"]]
    listed: list[dict[str, Any]] = []
    for name, target, group in entries:
        if name.startswith("_"):
            continue
        if target is not None:
            descr = target.description or ""
            item: dict[str, Any] = {"name": name}
            if descr:
                item["description"] = descr
        else:
            assert group is not None
            descr = group.description or ""
            if group.targets:
                members = ", ".join(sorted(group.targets, key=str.encode))
                descr = f"{descr} ({members})" if descr else members
            item = {"name": name}
            if descr:
                item["description"] = descr
            item["group"] = True
        listed.append(item)
        rows.append([name, descr])
    if fmt == "json":
        return (encode(listed) if listed else "null") + "\n"  # a nil Go slice
    return tabwrite(rows)


def list_variables(variables: Iterable[Variable], fmt: str = "table") -> str:
    """``--list variables``: name, type, value (``<null>`` for null), description."""
    ordered = sorted(variables, key=lambda v: v.name.encode())
    if fmt == "json":
        items = []
        for var in ordered:
            item: dict[str, Any] = {"name": var.name}
            if var.description:
                item["description"] = var.description
            type_name = friendly_type(var.type)
            if type_name:
                item["type"] = type_name
            if var.value is not None:
                item["value"] = variable_value(var.value)
            items.append(item)
        return (encode(items) if items else "null") + "\n"
    rows = [["VARIABLE", "TYPE", "VALUE", "DESCRIPTION"]]
    for var in ordered:
        value = "<null>" if var.value is None else variable_value(var.value)
        rows.append([var.name, friendly_type(var.type), value, var.description or ""])
    return tabwrite(rows)


def variable_value(value: Any) -> str:
    """A variable's value as ``--list`` shows it: strings raw, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return format_number(Decimal(value))
    return compact(value)


def friendly_type(type_expr: str | None) -> str:
    """cty's friendly name for a type expression: ``list(string)`` → ``list of string``."""
    if not type_expr:
        return ""
    text = type_expr.strip()
    if "(" not in text:
        return "dynamic" if text == "any" else text
    head, _, rest = text.partition("(")
    head = head.strip()
    inner = rest.rsplit(")", 1)[0]
    if head in ("list", "set", "map"):
        return f"{head} of {friendly_type(inner)}"
    return head


def tabwrite(rows: list[list[str]], minwidth: int = 1, tabwidth: int = 8, padding: int = 1) -> str:
    """Go ``tabwriter.NewWriter(w, 1, 8, 1, '\\t', 0)`` over ``"\\t"``-joined rows
    (every row ends with a newline; its last cell is not part of a column)."""
    lines = [list(row) for row in rows]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for line in lines[line0:line1]:
            for j, cell in enumerate(line):
                out.append(cell)
                if j < len(widths) and j < len(line) - 1:
                    cellw = -(-widths[j] // tabwidth) * tabwidth
                    n = cellw - len(cell)
                    out.append("\t" * (-(-n // tabwidth)))
            out.append("\n")

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "".join(out)
