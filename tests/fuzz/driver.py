"""Run a batch of fuzz inputs through bakec's CLI entry point, in one process.

Usage: ``python driver.py BATCH.json LOG``. BATCH holds ``{"cases": [...], "seconds": N}``; each case
is ``{"files": {name: latin-1 text}, "commands": [[arg, ...], ...], "parse": name or null}``.
Every case runs in its own folder with a fresh environment, as ``bakec`` would from a shell.

LOG gets one JSON line ``{"start": i}`` before case ``i`` runs and one ``{"done": i, ...}`` with
its results after, each written through at once: when the process dies (memory cap, SIGALRM
after ``seconds`` on one case, a crash in a C extension) the last ``start`` without its
``done`` names the input that killed it. The process runs under the caller's RLIMIT_AS.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
from pathlib import Path

TAIL = 4000  # characters of each output kept: enough for an excerpt and its ERROR line


def _capture(argv: list[str]) -> dict:
    """``bakec argv`` in-process: exit code and the tails of stdout and stderr."""
    from bakec.cli.main import main

    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="backslashreplace", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return {
        "argv": argv,
        "code": code,
        "stdout": out_bytes.getvalue().decode("utf-8", "replace")[-TAIL:],
        "stderr": err_bytes.getvalue().decode("utf-8", "replace")[-TAIL:],
    }


def _parse_error(path: Path) -> str | None:
    """The parser's own message when the bake file ``path`` does not parse (HCL or JSON), else None."""
    from bakec.bake.hcl.jsonsyntax import parse_json
    from bakec.bake.hcl.parse import parse_hcl
    from bakec.errors import BakecError

    parse = parse_json if path.suffix == ".json" else parse_hcl
    try:
        parse(path.read_bytes(), path.name)
    except BakecError as err:
        return err.message
    return None


def _run_case(case: dict, folder: Path) -> dict:
    folder.mkdir()
    for name, text in case["files"].items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1"))
    os.environ.clear()
    os.environ.update(
        {"PATH": "/usr/bin:/bin", "HOME": str(folder), "BAKEC_STATE_DIR": str(folder / ".state")}
    )
    os.chdir(folder)
    runs = [_capture(argv) for argv in case["commands"]]
    parse_error = _parse_error(folder / case["parse"]) if case.get("parse") else None
    return {"runs": runs, "parse_error": parse_error}


def main() -> None:
    batch = json.loads(Path(sys.argv[1]).read_text())
    root = Path.cwd()
    sys.stdin = io.StringIO("")
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a case over its time kills the process
    with open(sys.argv[2], "a", buffering=1) as log:
        for index, case in enumerate(batch["cases"]):
            log.write(json.dumps({"start": index}) + "\n")
            signal.alarm(batch["seconds"])
            result = _run_case(case, root / f"case-{index}")
            signal.alarm(0)
            log.write(json.dumps({"done": index, **result}) + "\n")


if __name__ == "__main__":
    main()
