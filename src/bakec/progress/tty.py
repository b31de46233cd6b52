"""``--progress tty``: buildx's live view of the build (rich).

::

    [+] Building 9.8s (23/23) FINISHED
     => [api internal] load build context                                   0.1s
     => CACHED [api build 1/3] FROM 127.0.0.1:5000/busybox                  0.0s
     => [api build 2/3] RUN make                                            4.2s
     => => # cc -c main.c

Each step on one line cut to the terminal's width, running steps last with the last lines
of their output under them; when the list is taller than the terminal the oldest finished
steps scroll away first. The view is redrawn a few times a second by rich's refresh thread,
never per event, so a busy build's events cost no drawing. ``NO_COLOR`` turns colours off.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from bakec.progress.events import Event, Log, Summary, Vertex
from bakec.progress.failure import Failures
from bakec.progress.summary import render_summary

REFRESH_PER_SECOND = 2  # the timers move in tenths; more costs CPU for nothing read
RUNNING_LOG_LINES = 3  # of each running step's output shown under it

_STYLE = {"started": "blue", "failed": "red", "cancelled": "yellow"}
_PREFIX = {"cached": "CACHED ", "failed": "ERROR ", "cancelled": "CANCELED "}


@dataclass
class _Row:
    name: str
    state: str
    started: float
    ended: float | None = None
    order: float = 0.0  # when it finished, for the finished steps' order


class Board:
    """The steps seen so far and the lines that show them (thread-safe: rich draws from its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, _Row] = {}
        self._started = time.monotonic()
        self._finished: float | None = None
        self.failures = Failures()

    def update(self, event: Vertex | Log) -> None:
        """Take ``event`` into the board."""
        now = time.monotonic()
        with self._lock:
            self.failures.follow(event)
            if isinstance(event, Log) or event.state == "skipped":
                return
            row = self._rows.get(event.id)
            if row is None:
                name = _printable(event.name + (" (emulated)" if event.emulated else ""))
                row = self._rows[event.id] = _Row(name, event.state, now)
            row.state = event.state
            if event.state != "started":
                row.ended = now if event.seconds is None else row.started + event.seconds
                row.ended = max(row.ended, row.started)
                row.order = now

    def finish(self) -> None:
        """The run ended: the header says FINISHED and its time stops."""
        with self._lock:
            self._finished = time.monotonic()

    def lines(self, width: int, height: int | None) -> list[tuple[str, str]]:
        """``(text, style)`` lines: header, finished steps, running steps with their output's tail.

        Each is cut to ``width``; with ``height``, the oldest finished steps are dropped to fit.
        """
        with self._lock:
            now = self._finished or time.monotonic()
            rows = sorted(
                self._rows.items(), key=lambda item: (item[1].ended is None, item[1].order, item[0])
            )
            done = sum(1 for _, row in rows if row.ended is not None)
            header = f"[+] Building {now - self._started:.1f}s ({done}/{len(rows)})"
            if self._finished is not None:
                header += " FINISHED"
            running: list[tuple[str, str]] = []
            for vid, row in rows[done:]:
                line = _step_line(_PREFIX.get(row.state, "") + row.name, f"{now - row.started:.1f}s", width)
                running.append((line, _STYLE.get(row.state, "")))
                for log in self.failures.tails.last(vid, RUNNING_LOG_LINES):
                    running.append((_cut(_printable(" => => # " + log.split(" ", 1)[-1]), width), "dim"))
            shown = rows[:done]
            if height is not None:  # only what fits is formatted: the newest finished steps
                room = max(0, height - 1 - len(running))
                shown = shown[len(shown) - room :] if room else []
            finished = [
                (
                    _step_line(
                        _PREFIX.get(row.state, "") + row.name, f"{row.ended - row.started:.1f}s", width
                    ),
                    _STYLE.get(row.state, ""),
                )
                for _, row in shown
                if row.ended is not None
            ]
        return [(_cut(header, width), "blue"), *finished, *running]


def _printable(text: str) -> str:
    """``text`` with tabs, newlines and control characters made spaces (one terminal line)."""
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def _cut(text: str, width: int) -> str:
    """``text`` no wider than ``width``, ``...`` marking the cut."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def _step_line(name: str, seconds: str, width: int) -> str:
    """`` => <name>`` padded so ``seconds`` ends at ``width``, the name cut to make room."""
    head = _cut(" => " + name, max(0, width - len(seconds) - 1))
    return head + " " * max(1, width - len(head) - len(seconds)) + seconds


class _View:
    """The rich renderable of a :class:`Board` (rich calls it on each refresh)."""

    def __init__(self, board: Board, crop: Callable[[], bool]) -> None:
        self.board = board
        self.crop = crop

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        height = console.size.height if self.crop() else None
        lines = self.board.lines(options.max_width, height)
        yield Text("\n").join(Text(text, style=style, no_wrap=True, overflow="crop") for text, style in lines)


def live(stream: TextIO) -> Callable[[Event], None]:
    """A renderer that shows the build as buildx's tty view does, then failures and the summary."""
    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream, no_color=bool(os.environ.get("NO_COLOR")) or None, highlight=False)
    board = Board()
    stopped = threading.Event()
    view = Live(
        _View(board, lambda: not stopped.is_set()),
        console=console,
        refresh_per_second=REFRESH_PER_SECOND,
        transient=False,
    )
    view.start()
    atexit.register(view.stop)  # a run that raised still gets its cursor back

    def render(event: Event) -> None:
        if isinstance(event, Vertex | Log):
            board.update(event)
        elif isinstance(event, Summary):
            board.finish()
            stopped.set()  # the last drawing shows every step
            view.stop()
            stream.write(board.failures.blocks())
            stream.write(render_summary(event))
            stream.flush()

    return render
