"""bakec's one exception hierarchy, and how errors are shown to users.

Every error a user can cause is a :class:`BakecError`. Errors that point into a
source file carry a :class:`Range`; they render exactly as buildx renders HCL
diagnostics: a ``file:line`` header, a five-line excerpt with ``>>>`` marking
the line, then ``ERROR: file:line,col-col: Summary; Detail``.

Exit codes (documented in the README):
  0  success
  1  user error: bad bake file, failed build, missing input
  2  usage error: bad command line
  3  environment error: missing daemon, package or permission
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_USER = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Range:
    """A span of source text in a named file (end is exclusive, as in HCL)."""

    filename: str
    start: Pos
    end: Pos

    def __str__(self) -> str:
        if self.start.line == self.end.line:
            span = f"{self.start.line},{self.start.column}-{self.end.column}"
        else:
            span = f"{self.start.line},{self.start.column}-{self.end.line},{self.end.column}"
        return f"{self.filename}:{span}"


class BakecError(Exception):
    """Base of every error bakec reports to a user (never shown as a traceback)."""

    exit_code = EXIT_USER
    # the text of the file ``range`` points into, when the error carries it itself
    # (a Dockerfile is not among the bake sources the CLI keeps for excerpts)
    source: bytes | None = None

    def __init__(self, summary: str, detail: str = "", range: Range | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.range = range

    @property
    def message(self) -> str:
        """The one-line text after ``ERROR:``."""
        text = self.summary
        if self.detail:
            text = f"{text}; {self.detail}"
        if self.range is not None:
            text = f"{self.range}: {text}"
        return text

    def __str__(self) -> str:
        return self.message


class UsageError(BakecError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class SpecError(BakecError):
    """A bake definition is invalid: syntax, types, references, values."""


class DiagnosticError(SpecError):
    """An HCL-style diagnostic: summary and detail at a source range."""


class BuildError(BakecError):
    """A build step failed."""


class PatternError(BakecError, ValueError):
    """A path pattern (``.dockerignore``, ``--exclude``, a COPY wildcard) is malformed."""


class SolveError(BuildError):
    """One target's build failed, at a line of its Dockerfile when known.

    Shown as buildx shows it: the Dockerfile excerpt (``services/api/Dockerfile:3``,
    ``>>>`` on the line), then ``ERROR: target api: failed to solve: <reason>``.
    The platform is named when the target builds for several.
    """

    def __init__(
        self,
        target: str,
        reason: str,
        *,
        platform: str = "",
        range: Range | None = None,
        source: bytes | None = None,
        detail: str = "",
    ) -> None:
        where = f"target {target}" + (f" ({platform})" if platform else "")
        super().__init__(f"{where}: failed to solve: {reason}", detail, range)
        self.target = target
        self.platform = platform
        self.reason = reason
        self.source = source

    @property
    def message(self) -> str:
        text = f"{self.summary}; {self.detail}" if self.detail else self.summary
        if self.range is not None and self.source is None:  # no excerpt to carry the position
            text = f"{self.range.filename}:{self.range.start.line}: {text}"
        return text


class TargetSpecError(SolveError, SpecError):
    """A target's Dockerfile is invalid (parse or plan time): a spec error, shown like a failed solve."""


class EnvironmentProblem(BakecError):
    """The machine lacks something bakec needs (daemon, package, privilege)."""

    exit_code = EXIT_ENVIRONMENT


def render(error: BakecError, sources: dict[str, bytes] | None = None) -> str:
    """Render an error as buildx prints it, with a source excerpt when known."""
    lines: list[str] = []
    if error.range is not None:
        text = (sources or {}).get(error.range.filename, error.source)
        if text is not None:
            lines.extend(excerpt(error.range, text))
    lines.append(f"ERROR: {error.message}")
    return "\n".join(lines) + "\n"


_EXCERPT_WIDTH = 240


def excerpt(rng: Range, source: bytes) -> list[str]:
    """The source lines around ``rng`` as buildx prints them: a header, then ``>>>`` on its line."""
    text = source.decode("utf-8", errors="replace").split("\n")
    if len(text) > 1 and text[-1] == "":  # the newline ending the last line starts no line
        text.pop()
    line = rng.start.line
    first = max(1, line - 2)
    last = min(len(text), line + 2)
    out = [f"{rng.filename}:{line}", "-" * 20]
    for number in range(first, last + 1):
        marker = ">>>" if number == line else "   "
        shown = text[number - 1]
        if len(shown) > _EXCERPT_WIDTH:  # a generated 36 KB line helps nobody in an error
            shown = shown[:_EXCERPT_WIDTH] + "…"
        out.append(f"{number:>4} | {marker} {shown}")
    out.append("-" * 20)
    return out
