"""``semvercmp``: Masterminds/semver v3 version constraints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.types import STRING

_PRE = r"(?:-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?(?:\+([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
_VERSION = re.compile(r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?" + _PRE + r"\Z")
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*)?(\+[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*)?"
)
_CV_PLAIN = re.sub(r"\((?!\?)", "(?:", _CV)
_OPS = r"(=>|=<|~>|>=|<=|!=|=|>|<|~|\^)?"
_OPS_PLAIN = _OPS.replace("(", "(?:", 1)
_CONSTRAINT = re.compile(r"^\s*" + _OPS + r"\s*(" + _CV + r")\s*\Z")
_FIND = re.compile(_OPS_PLAIN + r"\s*" + _CV_PLAIN)
_ONE = _OPS_PLAIN + r"\s*" + _CV_PLAIN + r"\s*"
_VALID = re.compile(r"^(\s*" + _ONE + r")((?:\s+|,\s*)" + _ONE + r")*\Z")
_RANGE = re.compile(r"\s*(" + _CV_PLAIN + r")\s+-\s+(" + _CV_PLAIN + r")\s*")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = ""

    @classmethod
    def parse(cls, text: str) -> "Version":
        match = _VERSION.match(text)
        if match is None:
            raise ValueError("Invalid Semantic Version")
        pre = match.group(4) or ""
        for ident in filter(None, pre.split(".")):
            if ident.isdigit() and len(ident) > 1 and ident.startswith("0"):
                raise ValueError("Version segment starts with 0")
        return cls(
            int(match.group(1)),
            int((match.group(2) or ".0")[1:]),
            int((match.group(3) or ".0")[1:]),
            pre,
        )

    def compare(self, other: "Version") -> int:
        mine, theirs = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if mine != theirs:
            return -1 if mine < theirs else 1
        return _compare_pre(self.pre, other.pre)


def _compare_pre(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    left, right = a.split("."), b.split(".")
    for x, y in zip(left, right, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit():
            return -1
        if y.isdigit():
            return 1
        return -1 if x < y else 1
    return (len(left) > len(right)) - (len(left) < len(right))


@dataclass(frozen=True)
class _Constraint:
    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version) -> bool:
        # Masterminds: a prerelease version only satisfies constraints that name a prerelease.
        if v.pre and not self.con.pre and self.op != "!=":
            return False
        return _OPERATORS[self.op](v, self)


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


def _parse_constraint(text: str) -> _Constraint:
    match = _CONSTRAINT.match(text)
    if match is None:
        raise ValueError(f"improper constraint: {text}")
    op = match.group(1) or ""
    major, minor, patch = match.group(3), match.group(4) or "", match.group(5) or ""
    tail = (match.group(6) or "") + (match.group(7) or "")
    dirty = minor_dirty = patch_dirty = False
    if _is_x(major):
        version, dirty = "0.0.0" + tail, True
    elif _is_x(minor[1:]) or minor == "":
        version, dirty, minor_dirty = f"{major}.0.0{tail}", True, True
    elif _is_x(patch[1:]) or patch == "":
        version, dirty, patch_dirty = f"{major}{minor}.0{tail}", True, True
    else:
        version = f"{major}{minor}{patch}{tail}"
    try:
        con = Version.parse(version)
    except ValueError:
        raise ValueError("constraint Parser Error") from None
    return _Constraint(op, con, dirty, minor_dirty, patch_dirty)


def _not_equal(v: Version, c: _Constraint) -> bool:
    if c.dirty:
        if v.pre and not c.con.pre:
            return False
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return _compare_pre(v.pre, c.con.pre) != 0
            return False
    return v.compare(c.con) != 0


def _greater(v: Version, c: _Constraint) -> bool:
    if not c.dirty:
        return v.compare(c.con) == 1
    if v.major != c.con.major:
        return v.major > c.con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) == 1


def _less_equal(v: Version, c: _Constraint) -> bool:
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(v: Version, c: _Constraint) -> bool:
    if v.compare(c.con) < 0:
        return False
    if (c.con.major, c.con.minor, c.con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != c.con.major:
        return False
    return not (v.minor != c.con.minor and not c.minor_dirty)


def _tilde_or_equal(v: Version, c: _Constraint) -> bool:
    return _tilde(v, c) if c.dirty else v.compare(c.con) == 0


def _caret(v: Version, c: _Constraint) -> bool:
    if v.compare(c.con) < 0:
        return False
    if c.con.major > 0 or c.minor_dirty:
        return v.major == c.con.major
    if v.major > 0:
        return False
    if c.con.minor > 0 or c.patch_dirty:
        return v.minor == c.con.minor
    if v.minor > 0:
        return False
    return c.con.patch == v.patch


_OPERATORS: dict[str, Callable[[Version, _Constraint], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": lambda v, c: v.compare(c.con) < 0,
    ">=": lambda v, c: v.compare(c.con) >= 0,
    "=>": lambda v, c: v.compare(c.con) >= 0,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def parse_constraints(text: str) -> list[list[_Constraint]]:
    """``||``-separated groups of ``,``/space-separated constraints (hyphen ranges rewritten)."""
    text = _RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(2)}", text)
    groups = []
    for part in text.split("||"):
        if not _VALID.match(part):
            raise ValueError(f"improper constraint: {part}")
        found = [m.group(0) for m in _FIND.finditer(part)] or [part]
        groups.append([_parse_constraint(item) for item in found])
    return groups


@function("semvercmp", Param("version", STRING), Param("constraint", STRING))
def semvercmp(version: str, constraint: str) -> bool:
    """Whether ``version`` satisfies a Masterminds/semver constraint (``>= 1.2, < 2``, ``~1.8``, ``^1``)."""
    try:
        parsed = Version.parse(version)
    except ValueError as err:
        raise FunctionError(f"failed to parse version {version}: {err}", arg=0) from None
    try:
        groups = parse_constraints(constraint)
    except ValueError as err:
        raise FunctionError(f"failed to parse constraint {constraint}: {err}", arg=1) from None
    return any(all(c.check(parsed) for c in group) for group in groups)
