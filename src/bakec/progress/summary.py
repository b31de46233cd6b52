"""The table that ends every run, shared by the plain and tty renderers."""

from __future__ import annotations

from typing import Any


def render_summary(event: dict[str, Any]) -> str:
    """The table that ends every run: each target's result and time."""
    lines = ["", "TARGET".ljust(32) + "RESULT".ljust(10) + "TIME"]
    for name, info in sorted(event.get("targets", {}).items()):
        emulated = f" (emulated {info['emulated_seconds']:.1f}s)" if info.get("emulated_seconds") else ""
        lines.append(
            name.ljust(32)
            + str(info.get("state", "?")).ljust(10)
            + f"{info.get('seconds', 0):.1f}s"
            + emulated
        )
    lines.append(f"total {event.get('seconds', 0):.1f}s")
    return "\n".join(lines) + "\n"
