"""The table that ends every run, shared by the plain and tty renderers."""

from __future__ import annotations

from bakec.progress.events import Summary


def render_summary(event: Summary) -> str:
    """Each target's result and time, then the run's."""
    lines = ["", "TARGET".ljust(32) + "RESULT".ljust(10) + "TIME"]
    for name, info in sorted(event.targets.items()):
        emulated = f" (emulated {info.emulated_seconds:.1f}s)" if info.emulated_seconds else ""
        lines.append(name.ljust(32) + info.state.ljust(10) + f"{info.seconds:.1f}s" + emulated)
    lines.append(f"total {event.seconds:.1f}s")
    return "\n".join(lines) + "\n"
