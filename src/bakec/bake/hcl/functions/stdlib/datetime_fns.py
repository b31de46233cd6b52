"""Time functions on RFC 3339 timestamps (Go ``time`` semantics, whole seconds)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import go_quote
from bakec.bake.hcl.types import ANY, NUMBER, STRING
from bakec.bake.hcl.values import Value, number
from bakec.util.golang import parse_duration

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]  # fmt: skip
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Timestamp:
    """An instant in whole seconds since the epoch, shown at a fixed UTC offset."""

    seconds: int
    offset: int = 0  # seconds east of UTC

    @property
    def local(self) -> dt.datetime:
        return (_EPOCH + dt.timedelta(seconds=self.seconds + self.offset)).replace(tzinfo=None)

    def rfc3339(self) -> str:
        return self.local.strftime("%Y-%m-%dT%H:%M:%S") + _zone(self.offset, colon=True, z=True)


def _zone(offset: int, colon: bool, z: bool) -> str:
    if offset == 0 and z:
        return "Z"
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


def parse_rfc3339(text: str) -> tuple[Timestamp, int]:
    """Parse an RFC 3339 timestamp; returns the instant and its nanoseconds."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(_rfc3339_error(text))
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    what = _range_error(month, day, hour, minute, second, year)
    if what:
        raise ValueError(f"not a valid RFC3339 timestamp: {what}")
    offset = 0
    if zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 24 or zm > 60:
            raise ValueError(f"not a valid RFC3339 timestamp: cannot use {go_quote(zone)} as UTC offset")
        offset = (zh * 3600 + zm * 60) * (-1 if zone[0] == "-" else 1)
    local = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    seconds = int((local - _EPOCH).total_seconds()) - offset
    nanos = int((fraction[1:] + "000000000")[:9]) if fraction else 0
    return Timestamp(seconds, offset), nanos


def _range_error(month: int, day: int, hour: int, minute: int, second: int, year: int) -> str:
    if not 1 <= month <= 12:
        return "month out of range"
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    if not 1 <= day <= last:
        return "day out of range"
    if hour > 23:
        return "hour out of range"
    if minute > 59:
        return "minute out of range"
    if second > 59:
        return "second out of range"
    return ""


def _rfc3339_error(text: str) -> str:
    """go-cty's rewording of Go's layout-based parse errors."""
    layout = [("2006", r"\d{4}", "year"), ("-", "-", None), ("01", r"\d{2}", "month"), ("-", "-", None),
              ("02", r"\d{2}", "day of month"), ("T", "T", None), ("15", r"\d{2}", "hour"), (":", ":", None),
              ("04", r"\d{2}", "minute"), (":", ":", None), ("05", r"\d{2}", "second")]  # fmt: skip
    rest = text
    for elem, pattern, what in layout:
        match = re.match(pattern, rest)
        if match is None:
            value = rest[: len(elem)] if what is None else rest
            if elem == "T":
                return "not a valid RFC3339 timestamp: missing required time introducer 'T'"
            if what is None:
                if not rest:
                    return f"not a valid RFC3339 timestamp: end of string where {go_quote(elem)} is expected"
                found, expected = go_quote(value), go_quote(elem)
                return f"not a valid RFC3339 timestamp: found {found} where {expected} is expected"
            if not rest:
                return f"not a valid RFC3339 timestamp: end of string before {what}"
            return f"not a valid RFC3339 timestamp: cannot use {go_quote(value)} as {what}"
        rest = rest[match.end() :]
    rest = re.sub(r"^\.\d+", "", rest)
    if not rest:
        return "not a valid RFC3339 timestamp: end of string before UTC offset"
    zone = re.match(r"Z|[+-]\d{2}:\d{2}", rest)
    if zone is None:
        return f"not a valid RFC3339 timestamp: cannot use {go_quote(rest)} as UTC offset"
    return f"not a valid RFC3339 timestamp: extra text: {go_quote(rest[zone.end() :])}"


def _parse_arg(text: str, arg: int | None) -> Timestamp:
    try:
        return parse_rfc3339(text)[0]
    except ValueError as err:
        raise FunctionError(str(err), arg=arg) from None


@function("timestamp")
def timestamp() -> str:
    """The current UTC time in RFC 3339 format."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- durations -----------------------------------------------------------------------------


@function("timeadd", Param("timestamp", STRING), Param("duration", STRING))
def timeadd(timestamp_text: str, duration: str) -> str:
    """Add a Go duration (``1h30m``, ``-10s``...) to an RFC 3339 timestamp."""
    try:
        start, nanos = parse_rfc3339(timestamp_text)
        delta = parse_duration(duration)
    except ValueError as err:
        raise FunctionError(str(err)) from None
    total = start.seconds * 10**9 + nanos + delta
    return Timestamp(total // 10**9, start.offset).rfc3339()


# --- formatdate / formattimestamp ------------------------------------------------------------


def _tokens(fmt: str) -> list[str]:
    """go-cty's date format tokenizer: quoted literals, runs of one letter, other text."""
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch == "'":
            if fmt.startswith("''", i):
                out.append("''")
                i += 2
                continue
            j = i + 1
            while j < n:
                if fmt[j] == "'":
                    if j + 1 < n and fmt[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(fmt[i : j + 1])
            i = j + 1
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < n and fmt[j] == ch:
                j += 1
            out.append(fmt[i:j])
            i = j
        else:
            j = i + 1
            while j < n and fmt[j] != "'" and not (fmt[j].isascii() and fmt[j].isalpha()):
                j += 1
            out.append(fmt[i:j])
            i = j
    return out


def format_date(fmt: str, when: Timestamp, unix: bool = False) -> str:
    """Render ``when`` with go-cty's formatdate mnemonics (``X`` = unix seconds when ``unix``)."""
    t = when.local
    out: list[str] = []
    for tok in _tokens(fmt):
        lead, size = tok[0], len(tok)
        if lead == "'":
            if tok[-1] != "'" or size == 1:
                raise FunctionError("unterminated literal '", arg=0)
            out.append("'" if size == 2 else tok[1:-1].replace("''", "'"))
        elif lead.isascii() and lead.isalpha():
            out.append(_verb(tok, lead, size, t, when, unix))
        else:
            out.append(tok)
    return "".join(out)


def _verb(tok: str, lead: str, size: int, t: dt.datetime, when: Timestamp, unix: bool) -> str:
    def bad(rule: str) -> FunctionError:
        return FunctionError(f"invalid date format verb {go_quote(tok)}: {rule}", arg=0)

    hour12 = t.hour % 12 or 12
    simple = {
        "D": (t.day, 'day of month must either be "D" or "DD"'),
        "h": (t.hour, '24-hour must either be "h" or "hh"'),
        "H": (hour12, '12-hour must either be "H" or "HH"'),
        "m": (t.minute, 'minute must either be "m" or "mm"'),
        "s": (t.second, 'second must either be "s" or "ss"'),
    }
    if lead in simple:
        value, rule = simple[lead]
        if size > 2:
            raise bad(rule)
        return f"{value:02d}" if size == 2 else str(value)
    if lead == "Y":
        if size == 2:
            return f"{t.year % 100:02d}"
        if size == 4:
            return f"{t.year:04d}"
        raise bad('year must either be "YY" or "YYYY"')
    if lead == "M":
        if size > 4:
            raise bad('month must be "M", "MM", "MMM", or "MMMM"')
        name = _MONTHS[t.month - 1]
        return [str(t.month), f"{t.month:02d}", name[:3], name][size - 1]
    if lead == "E":
        name = _WEEKDAYS[t.weekday()]
        if size == 3:
            return name[:3]
        if size == 4:
            return name
        raise bad('day of week must either be "EEE" or "EEEE"')
    if lead in "Aa":
        if size != 2:
            raise bad(f'must be "{lead}{lead}"')
        marker = "AM" if t.hour < 12 else "PM"
        return marker if lead == "A" else marker.lower()
    if lead == "Z":
        if size == 1:
            return _zone(when.offset, colon=True, z=True)
        if size == 3:
            return "UTC" if when.offset == 0 else _zone(when.offset, colon=False, z=False)
        if size == 4:
            return _zone(when.offset, colon=False, z=False)
        if size == 5:
            return _zone(when.offset, colon=True, z=False)
        raise bad("timezone must be Z, ZZZZ, or ZZZZZ")
    if lead == "X" and unix and size == 1:
        return str(when.seconds)
    raise FunctionError(f"invalid date format verb {go_quote(tok)}", arg=0)


@function("formatdate", Param("format", STRING), Param("time", STRING))
def formatdate(fmt: str, time_text: str) -> str:
    """Reformat an RFC 3339 timestamp (``YYYY-MM-DD``, ``EEEE``, ``hh:mm``, ``ZZZ``...)."""
    return format_date(fmt, _parse_arg(time_text, 1))


@function("formattimestamp", Param("format", STRING), Param("timestamp", ANY))
def formattimestamp(fmt: str, when: Value) -> str:
    """Like formatdate, for an RFC 3339 string or unix seconds; ``X`` prints unix seconds."""
    if isinstance(when, str):
        moment = _parse_arg(when, 1)
    elif isinstance(when, Decimal) and when.is_finite():
        moment = Timestamp(int(when.to_integral_value(rounding="ROUND_FLOOR")))
    else:
        raise FunctionError("timestamp must be an RFC3339 string or a unix timestamp number", arg=1)
    return format_date(fmt, moment, unix=True)


@function("unixtimestampparse", Param("unix_timestamp", NUMBER))
def unixtimestampparse(seconds: Decimal) -> dict:
    """Break unix seconds into UTC calendar fields (year, month, weekday, iso_week, rfc3339...)."""
    if not seconds.is_finite():
        raise FunctionError("unix timestamp must be a finite number", arg=0)
    moment = Timestamp(int(seconds.to_integral_value(rounding="ROUND_FLOOR")))
    t = moment.local
    iso_year, iso_week, _ = t.isocalendar()
    fields: dict[str, Value] = {
        "day": number(t.day),
        "hour": number(t.hour),
        "iso_week": number(iso_week),
        "iso_year": number(iso_year),
        "minute": number(t.minute),
        "month": number(t.month),
        "month_name": _MONTHS[t.month - 1],
        "rfc3339": moment.rfc3339(),
        "second": number(t.second),
        "weekday": number((t.weekday() + 1) % 7),
        "weekday_name": _WEEKDAYS[t.weekday()],
        "year": number(t.year),
        "year_day": number(t.timetuple().tm_yday),
    }
    return fields
