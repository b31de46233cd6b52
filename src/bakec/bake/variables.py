"""Variable overrides from the environment and ``--var``, with buildx's conversion rules.

A variable's override string is converted according to its declared type (or,
for untyped variables, the type of its default): primitives are parsed,
lists/sets/tuples read CSV, maps read ``key:value`` CSV, and ``NAME_JSON``
carries JSON for typed variables. See bake-spec §6.
"""

from __future__ import annotations

import csv
import json
import math
import re
from decimal import Decimal

from bakec.bake.hcl.types import ANY, BOOL, NUMBER, STRING, ConversionError, Type, convert, make_set
from bakec.bake.hcl.values import HList, HMap, Value, from_float64, number
from bakec.util.golang import parse_bool


class OverrideError(Exception):
    """An override value cannot be used; the message is buildx's."""


def parse_go_float(text: str) -> Decimal:
    """strconv.ParseFloat(text, 64) as buildx uses it: a float64, so a cty number of 53 bits."""
    cleaned = text.replace("_", "") if "_" in text and text[:1].isdigit() else text
    if cleaned.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise ValueError("invalid number value")  # ParseFloat accepts these; buildx does not
    try:
        value = number(cleaned)
    except Exception:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax') from None
    if not value.is_finite() or cleaned.strip() != cleaned or cleaned == "":
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    rounded = float(value)
    if math.isinf(rounded):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return from_float64(rounded)


def from_json(text: str) -> Value:
    """Decode JSON into cty-like values (numbers exact)."""
    return _json_to_value(
        json.loads(text, parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=None)
    )


def _json_to_value(data) -> Value:
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        return [_json_to_value(v) for v in data]
    if isinstance(data, dict):
        return {k: _json_to_value(data[k]) for k in sorted(data)}
    return data


def _json_decode_typed(name: str, text: str, t: Type | None) -> Value:
    """NAME_JSON decoded to the variable's type, as ctyjson.Unmarshal does (errors without their path)."""
    failed = f"failed to convert variable {name} from JSON"
    try:
        raw = json.loads(text, parse_float=number, parse_int=number)
    except json.JSONDecodeError as err:
        raise OverrideError(f"{failed}: {err}") from None
    if t is not None and t.kind == "any":
        raw, t = _unwrap_dynamic(raw, failed)
    value = _normalise_json(raw)
    if t is None:
        return value
    try:
        return convert(value, t)
    except ConversionError as err:
        raise OverrideError(f"{failed}: {_PATH_PREFIX.sub('', str(err))}") from None


_PATH_PREFIX = re.compile(r'^(?:(?:element \d+|attribute "[^"]*"): )+')
_JSON_TYPES = {"string": STRING, "number": NUMBER, "bool": BOOL, "dynamic": ANY}


def _unwrap_dynamic(raw, failed: str) -> tuple[Value, Type | None]:
    """A dynamically typed JSON value is ``{"value": ..., "type": ...}`` (ctyjson's wrapper)."""
    if not isinstance(raw, dict):
        raise OverrideError(f"{failed}: missing expected {{")
    for key in raw:
        if key not in ("value", "type"):
            raise OverrideError(f'{failed}: invalid key "{key}" in dynamically-typed value')
    if "type" not in raw:
        raise OverrideError(f"{failed}: missing type in dynamically-typed value")
    if "value" not in raw:
        raise OverrideError(f"{failed}: missing value in dynamically-typed value")
    try:
        return raw["value"], _json_type(raw["type"])
    except (ValueError, TypeError, KeyError):
        raise OverrideError(f"{failed}: failed to decode type for dynamic value: invalid type") from None


def _json_type(spec) -> Type:
    """A cty type from its JSON form: "string", ["list", "number"], ["object", {"a": "bool"}]..."""
    if isinstance(spec, str):
        return _JSON_TYPES[spec]
    kind, arg = spec
    if kind in ("list", "set", "map"):
        return Type(kind, element=_json_type(arg))
    if kind == "tuple":
        return Type("tuple", elements=tuple(_json_type(e) for e in arg))
    if kind == "object":
        return Type("object", attributes=tuple(sorted((k, _json_type(v)) for k, v in arg.items())))
    raise ValueError(kind)


def _normalise_json(raw) -> Value:
    if isinstance(raw, list):
        return [_normalise_json(v) for v in raw]
    if isinstance(raw, dict):
        return {k: _normalise_json(raw[k]) for k in sorted(raw)}
    return raw


def _csv_fields(text: str) -> list[str]:
    if text == "":  # Go's CSV reader finds no record at all
        raise csv.Error(f"failed to parse {text} as CSV: EOF")
    return next(csv.reader([text], skipinitialspace=False))


def convert_override(
    name: str, raw: str | None, json_raw: str | None, declared: Type | None, default: Value
) -> Value:
    """Convert an override to the variable's value; raise :class:`OverrideError` with buildx's text."""
    if declared is not None:
        if json_raw is not None:
            return _json_decode_typed(name, json_raw, declared)
        assert raw is not None
        return _convert_typed(name, raw, declared)
    # untyped: the default's type decides; NAME_JSON is taken verbatim
    text = raw if raw is not None else json_raw
    assert text is not None
    if isinstance(default, bool):
        try:
            return parse_bool(text)
        except ValueError as err:
            raise OverrideError(f"failed to parse {name} as bool: {err}") from None
    if isinstance(default, Decimal):
        try:
            return parse_go_float(text)
        except ValueError as err:
            raise OverrideError(f"failed to parse {name} as number: {err}") from None
    if isinstance(default, list):
        raise OverrideError(
            f"unsupported type {'list' if isinstance(default, HList) else 'tuple'} for variable {name}"
        )
    if isinstance(default, dict):
        raise OverrideError(
            f"unsupported type {'map' if isinstance(default, HMap) else 'object'} for variable {name}"
        )
    return text


def _convert_typed(name: str, raw: str, t: Type) -> Value:
    kind = t.kind
    if kind == "string":
        return raw
    if kind == "number":
        try:
            return parse_go_float(raw)
        except ValueError as err:
            raise OverrideError(f"failed to parse {name} as number: {err}") from None
    if kind == "bool":
        try:
            return parse_bool(raw)
        except ValueError as err:
            raise OverrideError(f"failed to parse {name} as bool: {err}") from None
    if kind in ("list", "set", "tuple", "map"):
        try:
            return _from_csv(name, raw, t)
        except (OverrideError, csv.Error) as err:
            raise OverrideError(f"failed to convert variable {name} from CSV: {err}") from None
    if kind == "object":
        raise OverrideError(f"unsupported type object for variable {name}")
    raise OverrideError(f"unsupported type dynamic for variable {name}")


def _from_csv(name: str, raw: str, t: Type) -> Value:
    """buildx's valueFromCSV: a list, set, tuple or map of primitives from one CSV record."""
    fields = _csv_fields(raw)
    unsupported = OverrideError(f"unsupported type {t.friendly} for CSV specification")
    if t.kind == "tuple":
        if len(fields) != len(t.elements):
            raise OverrideError(f"tuple expects {len(t.elements)} elements but only {len(fields)} provided")
        if not all(e.is_primitive for e in t.elements):
            raise unsupported
        return [
            _csv_element(name, f, et, "element of type tuple")
            for f, et in zip(fields, t.elements, strict=True)
        ]
    assert t.element is not None
    if not t.element.is_primitive:
        raise unsupported
    if t.kind == "map":
        out = {}
        for field in fields:
            pieces = next(csv.reader([field], delimiter=":")) if field else []
            if len(pieces) != 2:
                raise OverrideError(f"expected one k/v pair but got {len(pieces)} pieces from {field}")
            out[pieces[0]] = _csv_element(name, pieces[1], t.element, f"element from type {t.friendly}")
        return HMap({k: out[k] for k in sorted(out)})
    items = [_csv_element(name, f, t.element, f"element of type {t.friendly}") for f in fields]
    return make_set(items) if t.kind == "set" else HList(items)


def _csv_element(name: str, text: str, t: Type, what: str) -> Value:
    try:
        if t.kind == "number":
            try:
                return parse_go_float(text)
            except ValueError as err:
                raise OverrideError(f"failed to parse {name} as number: {err}") from None
        if t.kind == "bool":
            try:
                return parse_bool(text)
            except ValueError as err:
                raise OverrideError(f"failed to parse {name} as bool: {err}") from None
        return text
    except OverrideError as err:
        raise OverrideError(f"failed to parse {what}: {err}") from None


__all__ = ["OverrideError", "convert_override", "parse_go_float", "BOOL", "NUMBER", "STRING"]
