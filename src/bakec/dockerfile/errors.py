"""Errors of the Dockerfile frontend, positioned as ``Dockerfile:LINE``."""

from __future__ import annotations

from bakec.errors import Pos, Range, SpecError


class DockerfileError(SpecError):
    """A Dockerfile that BuildKit would reject at parse or plan time.

    ``summary`` holds BuildKit's wording; ``range`` the instruction's lines.
    """

    def __init__(
        self, summary: str, *, filename: str = "Dockerfile", line: int = 0, end_line: int = 0
    ) -> None:
        rng = None
        if line > 0:
            rng = Range(filename, Pos(line, 1), Pos(max(end_line, line), 1))
        super().__init__(summary, range=rng)
        self.filename = filename
        self.line = line

    @property
    def message(self) -> str:
        if self.line > 0:
            return f"{self.filename}:{self.line}: {self.summary}"
        return self.summary


class LintError(DockerfileError):
    """``check=error=true`` turned lint warnings into a failure."""
