"""Running fuzz inputs through bakec and judging the outcome: a clean result or a clean error.

Inputs run in batches through ``driver.py`` (one process per batch, under the limits of
tests/limited.py): process start-up costs far more than one input. A driver that dies is
blamed on the input it had started, and that input is run again alone to confirm it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

from limited import DOCKERFILE_MEMORY_CAP, MEMORY_CAP, run_limited

DRIVER = Path(__file__).with_name("driver.py")
CASE_SECONDS = 20  # one input's wall-clock limit (SIGALRM in the driver)
BATCH = 20  # inputs per driver process


def fuzz_settings(examples: int) -> settings:
    """``examples`` batches, fixed seed; ``BAKEC_FUZZ_SCALE=N`` runs N times as many (locally)."""
    scale = int(os.environ.get("BAKEC_FUZZ_SCALE", "1"))
    return settings(
        max_examples=examples * scale,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        # No shrinking: each step costs a driver process, and the failure already names its input.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@dataclass
class Case:
    """One input: the files of a folder, the bakec commands run in it, the bake file to parse."""

    files: dict[str, bytes]
    commands: list[list[str]]
    parse: str | None = None
    memory: int = MEMORY_CAP
    extra: dict[str, bytes] = field(default_factory=dict)  # context files, not part of the input

    def as_json(self) -> dict:
        files = {**self.extra, **self.files}
        return {
            "files": {k: v.decode("latin-1") for k, v in files.items()},
            "commands": self.commands,
            "parse": self.parse,
        }

    def __str__(self) -> str:
        return "\n".join(f"--- {name}: {data!r}" for name, data in self.files.items())


def bake_cases(name: str, data: bytes) -> list[Case]:
    """A bake file: ``build --print`` under 1 GiB, ``check`` under 3 GiB (it loads the Dockerfile
    parser for the targets' Dockerfiles); HCL and JSON parse errors must be positioned."""
    parse = name if name.endswith((".hcl", ".json")) else None
    return [
        Case({name: data}, [["build", "-f", name, "--print"]], parse),
        Case({name: data}, [["check", "-f", name]], parse, memory=DOCKERFILE_MEMORY_CAP),
    ]


def assert_bake_clean(name: str, inputs: list[bytes]) -> None:
    """Each bake file ``inputs`` (written as ``name``) prints and checks cleanly or fails cleanly."""
    printed, checked = zip(*(bake_cases(name, data) for data in inputs), strict=True)
    assert_clean(list(printed))
    assert_clean(list(checked))


CONTEXT = {"a.txt": b"a\n", "b.txt": b"b\n", "dir/c.txt": b"c\n", "dir/sub/d.md": b"d\n"}


def dockerfile_case(dockerfile: bytes, dockerignore: bytes | None = None) -> Case:
    """A Dockerfile (and .dockerignore) behind an inline target ``a``: ``plan`` and ``check``."""
    files = {"Dockerfile": dockerfile}
    if dockerignore is not None:
        files[".dockerignore"] = dockerignore
    return Case(
        files,
        [["plan", "--format", "json", "a"], ["check", "a"]],
        memory=DOCKERFILE_MEMORY_CAP,
        extra={**CONTEXT, "docker-bake.hcl": b'target "a" {}\n'},
    )


def problems(run: dict, parse: str | None, parse_error: str | None) -> list[str]:
    """What is wrong with one command's outcome; empty when it is a clean result or clean error."""
    out, err, code = run["stdout"], run["stderr"], run["code"]
    found = []
    if code not in (0, 1, 2):
        found.append(f"exit code {code}")
    if "Traceback" in out + err:
        found.append("a traceback")
    if "internal error" in out + err:
        found.append("an internal error")
    # The error is the last thing said; compose's messages run on over a few lines, as in buildx.
    error_said = re.search(r"^ERROR: .*\Z", err, re.M | re.S) is not None
    summary = re.search(r"^(\d+) error\(s\), \d+ warning\(s\)\n\Z", out, re.M)
    if code != 0 and not error_said:
        if not (run["argv"][0] == "check" and summary and int(summary[1]) > 0):
            found.append("no ERROR: line")
    if parse_error is not None:
        where = err if run["argv"][0] != "check" else out
        if code != 1 or not re.search(rf"^ERROR: {re.escape(parse)}:\d+", where, re.M):
            found.append(f"the parse error ({parse_error[:200]}) is not reported as {parse}:line")
    return found


def _run_batch(cases: list[Case]) -> tuple[list[dict], str]:
    """Results of the cases the driver finished, and its stderr when it died before the end."""
    with tempfile.TemporaryDirectory(prefix="bakec-fuzz-") as tmp:
        root = Path(tmp)
        (root / "batch.json").write_text(
            json.dumps({"cases": [c.as_json() for c in cases], "seconds": CASE_SECONDS})
        )
        memory = max(c.memory for c in cases)
        result = run_limited(
            [str(DRIVER), "batch.json", "log"], root, memory=memory, timeout=CASE_SECONDS * len(cases) + 30
        )
        log = [json.loads(line) for line in (root / "log").read_text().splitlines() if line.endswith("}")]
    done = [entry for entry in log if "done" in entry]
    died = "" if len(done) == len(cases) else f"exit {result.returncode}: {result.stderr.decode()[-3000:]}"
    return done, died


def assert_clean(cases: list[Case]) -> None:
    """Every case ends in a clean result or a clean error; the message names the first input that did not."""
    done, died = _run_batch(cases)
    for entry in done:
        case = cases[entry["done"]]
        for run in entry["runs"]:
            found = problems(run, case.parse, entry["parse_error"])
            assert not found, (
                f"bakec {' '.join(run['argv'])}: {'; '.join(found)}\ninput:\n{case}\n"
                f"exit {run['code']}\nstdout:\n{run['stdout'][-1500:]}\nstderr:\n{run['stderr'][-3000:]}"
            )
    if died:
        culprit = cases[len(done)]
        _, alone = _run_batch([culprit])
        raise AssertionError(
            f"the driver died on this input ({died})\n"
            f"alone: {alone or 'it passes on its own'}\ninput:\n{culprit}"
        )
