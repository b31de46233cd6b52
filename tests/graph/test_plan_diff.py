"""``bakec plan --diff OLD``: against a plan JSON file and against a git revision (work tree untouched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OLD_BASE = "busybox@sha256:" + "1" * 64
NEW_BASE = "busybox@sha256:" + "2" * 64

BAKE = textwrap.dedent("""\
    variable "MODE" { default = "fast" }
    target "api" {
      context = "api"
    }
    target "web" {
      context = "web"
      args = { MODE = MODE }
    }
    target "docs" {
      context = "docs"
    }
    group "default" { targets = ["api", "web", "docs"] }
    """)


def _dockerfile(base: str = "busybox") -> str:
    return f"FROM {base}\nARG MODE=slow\nCOPY src/ /src/\nRUN echo $MODE > /mode && ls /src > /list\n"


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "docker-bake.hcl").write_text(BAKE)
    for name in ("api", "web", "docs"):
        (root / name / "src").mkdir(parents=True)
        (root / name / "Dockerfile").write_text(_dockerfile())
        for i in range(5):
            (root / name / "src" / f"f{i}.txt").write_text(f"{name} {i}\n")
    return root


def _bakec(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(cwd.parent),
            "PYTHONPATH": str(REPO / "src"),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=False,
    )


def _diff(cwd: Path, old: str, *extra: str, env: dict[str, str] | None = None) -> dict:
    done = _bakec(cwd, "plan", "--diff", old, "--format", "json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_diff_against_a_json_plan_names_files_and_build_args(tmp_path):
    project = _project(tmp_path / "p")
    old = _bakec(project, "plan", "--format", "json")
    assert old.returncode == 0, old.stderr
    (tmp_path / "old.json").write_text(old.stdout)
    assert _diff(project, str(tmp_path / "old.json"))["summary"] == {"targets": 3, "changed": 0, "ops": 0}

    (project / "api" / "src" / "f3.txt").write_text("api 3, changed\n")
    (project / "api" / "src" / "f1.txt").unlink()
    report = _diff(project, str(tmp_path / "old.json"), env={"MODE": "thorough"})
    targets = {t["target"]: t for t in report["targets"]}
    assert sorted(targets) == ["api", "web"]
    [api] = targets["api"]["causes"]
    assert api["cause"] == "context-file"
    assert api["detail"] == {"changed": ["api/src/f3.txt"], "added": [], "removed": ["api/src/f1.txt"]}
    assert api["step"].endswith("COPY src/ /src/")
    [web] = targets["web"]["causes"]
    assert web["cause"] == "build-arg"
    assert web["detail"] == {"name": "MODE", "old": "fast", "new": "thorough"}
    by_step = {op["step"]: op["cause"] for op in report["ops"]}
    assert by_step == {
        "[api 2/3] COPY src/ /src/": "context-file",
        "[api 3/3] RUN echo slow > /mode && ls /src > /list": "parent",
        "[web 3/3] RUN echo thorough > /mode && ls /src > /list": "build-arg",
    }
    text = _bakec(project, "plan", "--diff", str(tmp_path / "old.json"), env={"MODE": "thorough"}).stdout
    assert text.endswith("2 of 3 targets change; 3 ops to run\n")
    assert "api/src/f3.txt changed; api/src/f1.txt removed → [api 2/3] COPY src/ /src/" in text


def test_diff_against_a_git_revision_leaves_the_work_tree_alone(tmp_path):
    project = _project(tmp_path / "repo")
    (project / "docs" / "Dockerfile").write_text(_dockerfile(OLD_BASE))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=project, check=True)

    (project / "docs" / "Dockerfile").write_text(_dockerfile(NEW_BASE))
    (project / "web" / "src" / "new.txt").write_text("new\n")
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True)

    report = _diff(project, "git:HEAD")
    causes = {t["target"]: [c["cause"] for c in t["causes"]] for t in report["targets"]}
    assert causes == {"web": ["context-file"], "docs": ["base-digest"]}
    web = next(t for t in report["targets"] if t["target"] == "web")["causes"][0]
    assert web["detail"] == {"changed": [], "added": ["web/src/new.txt"], "removed": []}
    docs = next(t for t in report["targets"] if t["target"] == "docs")["causes"][0]
    assert docs["detail"] == {"old": "docker.io/library/" + OLD_BASE, "new": "docker.io/library/" + NEW_BASE}
    after = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True)
    assert after.stdout == status.stdout  # nothing checked out, nothing written
    assert (project / "docs" / "Dockerfile").read_text() == _dockerfile(NEW_BASE)

    unknown = _bakec(project, "plan", "--diff", "git:no-such-rev")
    assert unknown.returncode != 0
    assert "no-such-rev" in unknown.stderr
