"""Path functions with Go ``path`` (always ``/``) semantics, and the home directory."""

from __future__ import annotations

import os
import pwd

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.types import STRING
from bakec.util.gopath import clean as go_clean


@function("basename", Param("path", STRING))
def basename(path: str) -> str:
    """The last element of a slash-separated path (Go ``path.Base``)."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped.rsplit("/", 1)[-1]


@function("dirname", Param("path", STRING))
def dirname(path: str) -> str:
    """All but the last element of a slash-separated path, cleaned (Go ``path.Dir``)."""
    return go_clean(path[: path.rfind("/") + 1])


@function("homedir")
def homedir() -> str:
    """The current user's home directory (``$HOME``, else the password database)."""
    home = os.environ.get("HOME")
    if home:
        return home
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        raise FunctionError("$HOME is not defined") from None
