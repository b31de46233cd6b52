"""The import-layering contract: imports flow one way, with no cycles, lazy imports only where listed."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.architecture.import_graph import (
    LAYERS,
    cycles,
    layer_violations,
    needless_lazy_entries,
    read_imports,
    unlisted_lazy_imports,
)

import bakec

BAKEC = Path(bakec.__file__).parent


def test_every_package_has_a_layer():
    packages = {p.name for p in BAKEC.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in BAKEC.glob("*.py") if p.stem != "__init__"}
    layered = {pkg for layer in LAYERS for pkg in layer}
    assert (packages | modules) - layered == set()


def test_imports_never_go_up_a_layer_or_sideways():
    assert layer_violations(read_imports(BAKEC)) == []


def test_no_import_cycles_between_modules():
    assert cycles(read_imports(BAKEC)) == []


def test_imports_inside_functions_only_in_listed_modules():
    assert unlisted_lazy_imports(read_imports(BAKEC)) == []


def test_every_listed_lazy_module_still_imports_lazily():
    assert needless_lazy_entries(read_imports(BAKEC)) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bakec"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_the_checker_catches_an_upward_import(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "util/__init__.py": "",
            "util/paths.py": "from bakec.worker.runc import mount\n",
            "worker/__init__.py": "",
            "worker/runc.py": "def mount(): pass\n",
        },
    )
    assert layer_violations(read_imports(root)) == [
        "bakec.util.paths:1 imports bakec.worker.runc (worker is above util)"
    ]


def test_the_checker_catches_a_sideways_import_inside_a_function(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "bake/__init__.py": "",
            "bake/model.py": "def f():\n    from bakec.dockerfile import parser\n",
            "dockerfile/__init__.py": "",
            "dockerfile/parser.py": "",
        },
    )
    imports = read_imports(root)
    assert layer_violations(imports) == [
        "bakec.bake.model:2 imports bakec.dockerfile.parser (dockerfile shares a layer with bake)"
    ]
    assert unlisted_lazy_imports(imports, allowed={}) == [
        "bakec.bake.model:2 imports bakec.dockerfile.parser inside a function"
    ]


def test_the_checker_catches_a_cycle_hidden_in_a_function(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "worker/__init__.py": "",
            "worker/run.py": "from bakec.worker import runc\n",
            "worker/runc.py": "def f():\n    from bakec.worker.run import x\n",
        },
    )
    assert cycles(read_imports(root)) == [["bakec.worker.run", "bakec.worker.runc"]]


def test_type_checking_imports_do_not_count(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "util/__init__.py": "",
            "util/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bakec.cli import main\n",
            "cli/__init__.py": "",
            "cli/main.py": "",
        },
    )
    assert layer_violations(read_imports(root)) == []
