"""Encoding functions: base64, JSON, CSV and URL query escaping."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import go_quote, json_encode
from bakec.bake.hcl.types import ANY, STRING
from bakec.bake.hcl.values import NUMBER_CONTEXT, HList, Value


@function("base64encode", Param("str", STRING))
def base64encode(text: str) -> str:
    """Standard base64 of the string's UTF-8 bytes."""
    return base64.b64encode(text.encode()).decode()


def go_b64decode(text: str) -> bytes:
    """Go's ``base64.StdEncoding.DecodeString``: padding required, CR/LF ignored."""
    cleaned = text.replace("\r", "").replace("\n", "")
    return base64.b64decode(cleaned, validate=True)


@function("base64decode", Param("str", STRING))
def base64decode(text: str) -> str:
    """Decode standard base64; the result must be valid UTF-8."""
    try:
        raw = go_b64decode(text)
    except (binascii.Error, ValueError):
        raise FunctionError(f"failed to decode base64 data '{text}'") from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise FunctionError("the result of decoding the the provided string is not valid UTF-8") from None


@function("urlencode", Param("str", STRING))
def urlencode(text: str) -> str:
    """Go's ``url.QueryEscape``: spaces become ``+``, everything but ``A-Za-z0-9-_.~`` is %-escaped."""
    return urllib.parse.quote_plus(text, safe="")


@function("jsonencode", Param("val", ANY, allow_null=True))
def jsonencode(value: Value) -> str:
    """Compact JSON with sorted keys and Go's HTML-safe string escaping."""
    return json_encode(value)


def _reject_constant(name: str) -> None:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _object(pairs: list[tuple[str, Value]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate {go_quote(key)} property in JSON object")
        out[key] = value
    return {k: out[k] for k in sorted(out)}


@function("jsondecode", Param("str", STRING))
def jsondecode(text: str) -> Value:
    """Parse JSON: objects become objects, arrays tuples, numbers exact cty numbers."""
    try:
        return json.loads(
            text,
            parse_float=NUMBER_CONTEXT.create_decimal,
            parse_int=NUMBER_CONTEXT.create_decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as err:
        raise FunctionError(_go_json_error(err, text)) from None
    except ValueError as err:
        raise FunctionError(str(err)) from None


def _go_json_error(err: json.JSONDecodeError, text: str) -> str:
    """Approximate Go's ``encoding/json`` syntax error wording."""
    if err.pos >= len(text.rstrip()):
        return "unexpected EOF"
    ch = text[err.pos]
    if err.msg == "Extra data":
        return f"invalid character {_rune(ch)} after top-level value"
    if err.msg.startswith("Expecting value"):
        return f"invalid character {_rune(ch)} looking for beginning of value"
    if err.msg.startswith("Expecting property name"):
        return f"invalid character {_rune(ch)} looking for beginning of object key string"
    if err.msg.startswith("Expecting ',' delimiter"):
        context = "array element" if _inside_array(text, err.pos) else "object key:value pair"
        return f"invalid character {_rune(ch)} after {context}"
    if err.msg.startswith("Expecting ':' delimiter"):
        return f"invalid character {_rune(ch)} after object key"
    return err.msg


def _inside_array(text: str, pos: int) -> bool:
    depth: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth.append(ch)
        elif ch in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "["


def _rune(ch: str) -> str:
    return "'" + ch + "'" if ch != "'" else "'\\''"


# --- CSV (Go encoding/csv with default settings) ---------------------------------------------


class _CSVError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"CSV parse error on line {line}: {message}")


def _read_records(text: str) -> list[tuple[int, list[str]]]:
    """Records with their starting line; empty lines are skipped, quotes follow RFC 4180."""
    records: list[tuple[int, list[str]]] = []
    text = text.replace("\r\n", "\n")
    i, n, line = 0, len(text), 1
    while i < n:
        if text[i] == "\n":
            i += 1
            line += 1
            continue
        start_line = line
        fields: list[str] = []
        while True:
            if i < n and text[i] == '"':
                value, i, line = _quoted_field(text, i + 1, line)
            else:
                end = i
                while end < n and text[end] not in ",\n":
                    if text[end] == '"':
                        raise _CSVError(line, 'bare " in non-quoted-field')
                    end += 1
                value, i = text[i:end], end
            fields.append(value)
            if i < n and text[i] == ",":
                i += 1
                continue
            if i < n:
                i += 1
                line += 1
            break
        records.append((start_line, fields))
    return records


def _quoted_field(text: str, i: int, line: int) -> tuple[str, int, int]:
    out: list[str] = []
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            if i + 1 < n and text[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            if i + 1 < n and text[i + 1] not in ",\n":
                raise _CSVError(line, 'extraneous or missing " in quoted-field')
            return "".join(out), i + 1, line
        if ch == "\n":
            line += 1
        out.append(ch)
        i += 1
    raise _CSVError(line, 'extraneous or missing " in quoted-field')


@function("csvdecode", Param("str", STRING))
def csvdecode(text: str) -> HList:
    """A list of objects, one per row, keyed by the header row's column names."""
    try:
        records = _read_records(text)
    except _CSVError as err:
        raise FunctionError(str(err)) from None
    if not records:
        raise FunctionError("missing header line")
    headers = records[0][1]
    seen: set[str] = set()
    for name in headers:
        if name in seen:
            raise FunctionError(f"duplicate column name {go_quote(name)}")
        seen.add(name)
    rows = []
    for line, fields in records[1:]:
        if len(fields) != len(headers):
            raise FunctionError(f"CSV parse error on line {line}: wrong number of fields")
        rows.append({name: fields[i] for i, name in sorted(enumerate(headers), key=lambda p: p[1])})
    return HList(rows)
