"""bakec as a user installs it: a wheel built from this checkout, in a fresh virtualenv (needs PyPI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from bakec._version import __version__

REPO = Path(__file__).resolve().parents[2]

# data files bakec reads at run time; they must ship inside the wheel
PACKAGE_DATA = (
    "bakec/graph/templates/plan.html.j2",
    "bakec/worker/seccomp_default.json",
    "bakec/worker/protos/tasks.proto",
)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def test_wheel_installs_in_a_fresh_virtualenv_and_runs(tmp_path):
    source = tmp_path / "source"  # a copy: building in place would write build/ into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)])
    (wheel,) = (tmp_path / "dist").glob("bakec-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in PACKAGE_DATA if name not in names] == []
    assert {n for n in names if n.startswith("bakec/worker/protos/")} == {
        f"bakec/worker/protos/{p.name}" for p in (REPO / "src/bakec/worker/protos").glob("*.proto")
    }

    # without PYTHONPATH: pip would take this checkout for an installed bakec, and bakec would run it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["BAKEC_STATE_DIR"] = str(tmp_path / "state")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=env)
    _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], env=env)
    bakec = str(venv / "bin" / "bakec")
    assert _run([bakec, "--version"], env=env).stdout == f"bakec {__version__}\n"

    project = tmp_path / "project"
    project.mkdir()
    (project / "docker-bake.hcl").write_text(  # HCL: python-hcl2's Lark grammar must load
        'variable "TAG" { default = "1" }\ntarget "app" { tags = ["acme/app:${TAG}"] }\n'
    )
    printed = _run([bakec, "build", "--print", "app"], env=env, cwd=project).stdout
    assert json.loads(printed)["target"]["app"]["tags"] == ["acme/app:1"]
    (project / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    html = _run([bakec, "plan", "--format", "html", "app"], env=env, cwd=project).stdout
    assert html.lstrip().lower().startswith("<!doctype html")  # the template shipped
    installed = _run([str(venv / "bin" / "python"), "-c", "import bakec; print(bakec.__file__)"], env=env)
    assert installed.stdout.startswith(str(venv))
    assert not (tmp_path / "state").exists()  # read-only commands write no state
