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
    source: bytes | None = None  # the text ``range`` points into, when the caller's map lacks it

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


class EnvironmentProblem(BakecError):
    """The machine lacks something bakec needs (daemon, package, privilege)."""

    exit_code = EXIT_ENVIRONMENT


def render(error: BakecError, sources: dict[str, bytes] | None = None) -> str:
    """Render an error as buildx prints it, with a source excerpt when known."""
    lines: list[str] = []
    if error.range is not None:
        text = sources.get(error.range.filename) if sources else None
        text = text if text is not None else error.source
        if text is not None:
            lines.extend(_excerpt(error.range, text))
    lines.append(f"ERROR: {error.message}")
    return "\n".join(lines) + "\n"


def _excerpt(rng: Range, source: bytes) -> list[str]:
    text = source.decode("utf-8", errors="replace").split("\n")
    line = rng.start.line
    first = max(1, line - 2)
    last = min(len(text), line + 2)
    out = [f"{rng.filename}:{line}", "-" * 20]
    for number in range(first, last + 1):
        marker = ">>>" if number == line else "   "
        out.append(f"{number:>4} | {marker} {text[number - 1]}")
    out.append("-" * 20)
    return out
