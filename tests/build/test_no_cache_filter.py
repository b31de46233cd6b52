"""Bake's ``no-cache-filter``: the named stages' steps re-run on a warm cache, the others stay cached."""

from __future__ import annotations

import textwrap

from .helpers import BUSYBOX, cli, fresh_state, instruction, needs_builds, vertices, write_project

pytestmark = needs_builds

DOCKERFILE = f"""\
FROM {BUSYBOX} AS deps
COPY deps.txt /deps
FROM deps AS build
RUN cat /deps > /build && echo "$RANDOM" > /random
FROM {BUSYBOX} AS final
COPY --from=build /build /random /out/
RUN ls /out > /listing
"""


def _bake(extra: str = "") -> str:
    return textwrap.dedent(f"""\
        target "default" {{
          output = ["type=local,dest=out"]
          {extra}
        }}
        """)


STEPS = ("COPY deps.txt", "RUN cat /deps", "COPY --from=build", "RUN ls /out")


def _ran(stderr: str) -> list[str]:
    """The steps of DOCKERFILE (as named in STEPS) that ran, in order."""
    return [
        step for name in vertices(stderr, "started") for step in STEPS if instruction(name).startswith(step)
    ]


def test_no_cache_filter_reruns_only_the_named_stage(tmp_path):
    project = write_project(
        tmp_path / "p", DOCKERFILE, _bake('no-cache-filter = ["build"]'), {"deps.txt": "deps\n"}
    )
    with fresh_state() as state:
        first = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert first.returncode == 0, first.stderr
        assert sorted(_ran(first.stderr)) == sorted(STEPS)
        random_before = (project / "out" / "out" / "random").read_text()

        second = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert second.returncode == 0, second.stderr
        # the stage re-ran and wrote a new /random, so what copies it runs again too
        assert _ran(second.stderr) == ["RUN cat /deps", "COPY --from=build", "RUN ls /out"]
        assert any(
            instruction(name).startswith("COPY deps.txt") for name in vertices(second.stderr, "cached")
        )
        assert (project / "out" / "out" / "build").read_text() == "deps\n"
        assert (project / "out" / "out" / "random").read_text() != random_before


def test_stage_names_match_case_insensitively_and_an_unchanged_rerun_keeps_downstream_cached(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, _bake(), {"deps.txt": "deps\n"})
    with fresh_state() as state:
        assert cli(project, "build", "--state-dir", str(state)).returncode == 0
        (project / "docker-bake.hcl").write_text(_bake('no-cache-filter = ["DEPS"]'))
        proc = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert proc.returncode == 0, proc.stderr
        # the re-run wrote the same layer (COPY keeps the context's times): nothing downstream runs again
        assert _ran(proc.stderr) == ["COPY deps.txt"]
        (project / "docker-bake.hcl").write_text(_bake())
        plain = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert _ran(plain.stderr) == []
