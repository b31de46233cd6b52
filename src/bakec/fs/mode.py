"""``--chmod`` values: octal, or chmod(1)'s symbolic form as BSD ``setmode(3)`` reads it.

BuildKit sends an octal value as an exact mode (permission bits plus setuid,
setgid and sticky) and a symbolic one as a string applied to each source mode:

* clauses separated by ``,``: ``[ugoa]*`` then one or more ``[+-=]`` operators,
  each followed by permission letters ``rwxXst`` or one class to copy (``g=u``);
* no class letter means "all", limited by the umask for the bits it sets; fsutil
  parses with umask 0 (and buildkitd runs with umask 0), so ``+w`` adds every write
  bit (conformance case 029);
* ``X`` adds execute when the entry is a directory or already executable by
  someone; it counts for ``+`` and ``=`` (``u=rwX`` on a 0700 directory gives
  ``rwx``, as the conformance corpus shows), never for ``-``.
"""

from __future__ import annotations

import stat
from collections.abc import Callable

from bakec.errors import BuildError

__all__ = ["DAEMON_UMASK", "ModeFunc", "octal_mode", "parse_chmod"]

DAEMON_UMASK = 0  # buildkitd sets umask 0 at start (cmd/buildkitd/main_unix.go)

ModeFunc = Callable[[int, bool], int]
"""Maps (source permission bits incl. setuid/setgid/sticky, is_dir) to the new bits."""

_STANDARD = 0o6777  # setuid, setgid and rwx for all; sticky is opt-in with "t"
_USER = stat.S_ISUID | 0o700
_GROUP = stat.S_ISGID | 0o070
_OTHER = 0o007


def _invalid(spec: str, detail: str = "") -> BuildError:
    if detail:
        return BuildError(f"invalid chmod parameter: '{spec}': {detail}")
    return BuildError(f"invalid chmod parameter: '{spec}'. it should be octal string and between 0 and 07777")


def parse_chmod(spec: str) -> ModeFunc | None:
    """The mode function of a ``--chmod`` value (``None`` for ``""``); BuildError when invalid."""
    if spec == "":
        return None
    if spec.isdigit():
        try:
            value = int(spec, 8)
        except ValueError:
            raise _invalid(spec) from None
        if value > 0o7777:
            raise _invalid(spec)
        return lambda _mode, _is_dir, v=value: v
    if spec[0].isdigit():
        raise _invalid(spec)
    cmds = _parse_symbolic(spec)
    return lambda mode, is_dir: _apply(cmds, mode, is_dir)


def octal_mode(spec: str) -> int | None:
    """The exact mode an octal ``--chmod`` gives, or None for a symbolic (or empty) one.

    BuildKit sends only an octal value as a number; fsutil also creates the missing
    parents of the destination with it (a symbolic mode leaves them 0755).
    Call after :func:`parse_chmod` accepted ``spec``.
    """
    return int(spec, 8) if spec.isdigit() else None


# A command is (op, bits, extra): op "+", "-", "X" set/clear/conditionally-set bits;
# op "copy" copies the class ``extra[0]`` ("u"/"g"/"o") into the target classes
# ``extra[1]`` with set/clear flags ``extra[2]``.
_Cmd = tuple[str, int, tuple[str, str, str] | None]


def _parse_symbolic(spec: str) -> list[_Cmd]:
    mask = ~DAEMON_UMASK & 0o7777
    cmds: list[_Cmd] = []
    s = spec
    i = 0
    n = len(s)

    def add(op: str, who: int, perm: int) -> None:
        if op == "=":
            cmds.append(("-", who if who else _STANDARD, None))
            op = "+"
        cmds.append((op, (who & perm) if who else (mask & perm), None))

    while True:
        who = 0
        while i < n and s[i] in "ugoa":
            who |= {"u": _USER, "g": _GROUP, "o": _OTHER, "a": _STANDARD}[s[i]]
            i += 1
        if i >= n or s[i] not in "+-=":
            raise _invalid(spec, "invalid syntax")
        while True:
            op = s[i]
            i += 1
            equal_done = False
            perm = 0
            perm_x = 0
            clause_who = who
            while True:
                ch = s[i] if i < n else ""
                if ch == "r":
                    perm |= 0o444
                elif ch == "w":
                    perm |= 0o222
                elif ch == "x":
                    perm |= 0o111
                elif ch == "X":
                    if op != "-":
                        perm_x = 0o111
                elif ch == "s":
                    if clause_who == 0 or clause_who & ~_OTHER:
                        perm |= stat.S_ISUID | stat.S_ISGID
                elif ch == "t":
                    if clause_who == 0 or clause_who & ~_OTHER:
                        clause_who |= stat.S_ISVTX
                        perm |= stat.S_ISVTX
                elif ch and ch in "ugo":
                    if perm:
                        add(op, clause_who, perm)
                        perm = 0
                    if op == "=":
                        equal_done = True
                    if perm_x:
                        cmds.append(("X", (clause_who & perm_x) if clause_who else (mask & perm_x), None))
                        perm_x = 0
                    targets = (
                        "ugo"
                        if clause_who == 0
                        else "".join(
                            c for c, bit in (("u", 0o400), ("g", 0o040), ("o", 0o004)) if clause_who & bit
                        )
                    )
                    limit = mask if clause_who == 0 else 0o7777
                    cmds.append(("copy", limit, (ch, targets, op)))
                else:
                    if perm or (op == "=" and not equal_done):
                        add(op, clause_who, perm)
                    if perm_x:
                        cmds.append(("X", (clause_who & perm_x) if clause_who else (mask & perm_x), None))
                    break
                i += 1
            if i >= n:
                return cmds
            if s[i] == ",":
                i += 1
                break
            if s[i] not in "+-=":
                raise _invalid(spec, "invalid syntax")


def _apply(cmds: list[_Cmd], mode: int, is_dir: bool) -> int:
    original = mode & 0o7777
    new = original
    i = 0
    while i < len(cmds):
        op, bits, extra = cmds[i]
        if op == "copy":
            assert extra is not None
            cls, targets, how = extra
            shift = {"u": 6, "g": 3, "o": 0}[cls]
            value = (new >> shift) & 0o7
            clear_value = 0o7 if how == "=" else value
            for t in targets:
                tshift = {"u": 6, "g": 3, "o": 0}[t]
                if how in "-=":
                    new &= ~((clear_value << tshift) & bits)
                if how in "+=":
                    new |= (value << tshift) & bits
            i += 1
            continue
        # a run of +, - and X commands is folded as setmode's compress() does
        set_bits = clr_bits = x_bits = 0
        while i < len(cmds) and cmds[i][0] != "copy":
            op, bits, _ = cmds[i]
            if op == "-":
                clr_bits |= bits
                set_bits &= ~bits
                x_bits &= ~bits
            elif op == "+":
                set_bits |= bits
                clr_bits &= ~bits
                x_bits &= ~bits
            else:
                x_bits |= bits & ~set_bits
            i += 1
        new &= ~clr_bits
        new |= set_bits
        if x_bits and (is_dir or original & 0o111):
            new |= x_bits
    return new & 0o7777
