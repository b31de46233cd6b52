"""Go's ``path`` package semantics (always ``/``), shared by bake context cleaning and the HCL stdlib."""

from __future__ import annotations


def clean(path: str) -> str:
    """Go's ``path.Clean``: lexical normalisation of slashes, ``.`` and ``..``."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
