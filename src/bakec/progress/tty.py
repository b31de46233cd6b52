"""``--progress tty``: a live view of every step's state and timing (rich)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

from bakec.progress.events import Event, Summary, Vertex
from bakec.progress.summary import render_summary

_STYLE = {
    "started": "yellow",
    "done": "green",
    "cached": "blue",
    "failed": "bold red",
    "skipped": "dim",
    "cancelled": "dim",
}


def live(stream: TextIO) -> Callable[[Event], None]:
    """A renderer that redraws a table of the steps (the last 40) as events arrive."""
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    console = Console(file=stream)
    rows: dict[int, dict[str, Any]] = {}
    view = Live(console=console, refresh_per_second=8, transient=False)
    view.start()

    def table() -> Table:
        grid = Table.grid(padding=(0, 1))
        now = time.monotonic()
        for vid, row in sorted(rows.items())[-40:]:
            state = row["state"]
            seconds = row.get("seconds") if state != "started" else now - row["t0"]
            grid.add_row(
                f"#{vid}",
                f"[{_STYLE.get(state, '')}]{state.upper():9}[/]",
                f"{seconds or 0:6.1f}s",
                row["name"] + (" (emulated)" if row.get("emulated") else ""),
            )
        return grid

    def render(event: Event) -> None:
        if isinstance(event, Vertex):
            row = rows.setdefault(event.id, {"t0": time.monotonic(), "name": event.name})
            row.update(state=event.state, seconds=event.seconds, emulated=event.emulated)
            view.update(table())
        elif isinstance(event, Summary):
            view.update(table())
            view.stop()
            console.print(render_summary(event), end="")

    return render
