"""Types at the seams: mypy passes on src/ (config in pyproject.toml), and the solver's seams take no ``Any``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bakec

REPO = Path(__file__).resolve().parents[2]
BAKEC = Path(bakec.__file__).parent

# The solver and what it drives: their public signatures say exactly what crosses the seam.
SEAM_MODULES = [
    "solver/protocols.py",
    "solver/solve.py",
    "solver/scheduler.py",
    "solver/emulated.py",
    "export/exporters.py",
    "export/request.py",
]


def test_mypy_passes_on_src():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def any_in_signatures(path: Path) -> list[str]:
    """Public functions of ``path`` whose parameter or return annotations mention ``Any``."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("_"):
            continue
        args = node.args
        annotations = [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        annotations += [
            args.vararg.annotation if args.vararg else None,
            args.kwarg.annotation if args.kwarg else None,
        ]
        annotations.append(node.returns)
        for annotation in annotations:
            if annotation is not None and any(
                isinstance(n, ast.Name) and n.id == "Any" for n in ast.walk(annotation)
            ):
                found.append(f"{path.name}:{node.lineno} {node.name}")
                break
    return found


def test_seam_signatures_take_no_any():
    assert [hit for module in SEAM_MODULES for hit in any_in_signatures(BAKEC / module)] == []


def test_the_any_check_finds_one(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import Any\ndef run(x: int) -> dict[str, Any]: ...\ndef _ok(y: Any): ...\n"
    )
    assert any_in_signatures(module) == ["m.py:2 run"]
