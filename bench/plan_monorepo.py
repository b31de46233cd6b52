#!/usr/bin/env python3
"""`bakec plan --format json` wall time on the monorepo (25 targets) and a 200-target matrix.

Usage: bench/plan_monorepo.py [--runs N]
The monorepo comes from bench/gen_workloads.py; the matrix is generated here: 20 apps,
each with its own context (60 source files, a .dockerignore) and a multi-stage Dockerfile on a
shared base stage, × 10 variants from one bake matrix = 200 targets. The CLI runs as a user runs
it (interpreter start included). "cold" is the first run with an empty stat cache (every context
file read); the median is over the warm runs that follow.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = Path(__file__).resolve().parent / "gen_workloads.py"
BASE = "127.0.0.1:5000/busybox:latest"


def bakec_command() -> list[str]:
    exe = shutil.which("bakec")
    return [exe] if exe else [sys.executable, "-m", "bakec.cli.main"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def monorepo(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location("gen_workloads", GEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.monorepo(str(root / "monorepo"), BASE)
    return root / "monorepo"


def matrix200(root: Path, apps: int = 20, variants: int = 10) -> Path:
    root = root / "matrix200"
    for a in range(apps):
        app = root / "apps" / f"app{a:02d}"
        for i in range(60):
            write(
                app / "src" / f"pkg{i % 6}" / f"mod{i:02d}.py",
                f"# app {a} module {i}\nVALUE = {a * 1000 + i}\n",
            )
        write(app / "src" / "build.log", "ignored\n")
        write(app / ".dockerignore", "**/*.log\n")
        write(app / "README.md", f"app {a}\n")
        write(
            app / "Dockerfile",
            f"""FROM {BASE} AS base
RUN mkdir -p /opt/runtime && echo runtime > /opt/runtime/version
WORKDIR /app
FROM base AS build
ARG VARIANT=default
COPY src/ /app/src/
RUN --mount=type=cache,target=/root/.cache busybox tar -cf /app/out.tar /app/src && echo $VARIANT > /app/variant
FROM base
ARG VARIANT=default
COPY --from=build /app/out.tar /app/variant /app/
ENV VARIANT=$VARIANT
CMD ["/bin/sh"]
""",
        )
    names = ", ".join(f'"app{a:02d}"' for a in range(apps))
    variants_list = ", ".join(f'"v{v}"' for v in range(variants))
    write(
        root / "docker-bake.hcl",
        f"""target "app" {{
  name = "${{app}}-${{variant}}"
  matrix = {{ app = [{names}], variant = [{variants_list}] }}
  context = "apps/${{app}}"
  args = {{ VARIANT = variant }}
  tags = ["registry.local/${{app}}:${{variant}}"]
}}
group "default" {{ targets = ["app"] }}
""",
    )
    return root


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stderr}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cmd = bakec_command() + ["plan", "--format", "json"]
    print(f"command: {' '.join(cmd)}")
    print(
        f"{'workload':>10} {'targets':>8} {'ops':>5} {'unique':>7} {'cold s':>7} {'median s':>9} {'min s':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="bakec-plan-bench-") as tmp:
        for name, make in (("monorepo", monorepo), ("matrix200", matrix200)):
            workdir = make(Path(tmp))
            # files written just now are too fresh for the stat cache; age them as a checkout would be
            past = time.time() - 3600
            for dirpath, _, files in os.walk(workdir):
                for f in files:
                    os.utime(os.path.join(dirpath, f), (past, past))
            env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / f"cache-{name}"))
            cold, out = run(cmd, workdir, env)
            summary = json.loads(out)["summary"]
            times = [run(cmd, workdir, env)[0] for _ in range(args.runs)]
            print(
                f"{name:>10} {summary['targets']:>8} {summary['requested']:>5} {summary['unique']:>7} "
                f"{cold:>7.2f} {statistics.median(times):>9.2f} {min(times):>7.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
