"""``bakec why TARGET`` on real builds: each cause named from the build records of the state dir."""

from __future__ import annotations

import json
import textwrap

from .helpers import BUSYBOX, cli, fresh_state, needs_builds, write_project

pytestmark = needs_builds

DOCKERFILE = f"""\
FROM {BUSYBOX}
ARG GREETING=hello
COPY src/ /src/
RUN echo "$GREETING" > /greeting && cat /src/* > /all
RUN wc -c /all > /count
"""

BAKE = textwrap.dedent("""\
    target "app" {
      output = ["type=local,dest=out"]
    }
    """)

FILES = {"src/a.txt": "a\n", "src/b.txt": "b\n", "src/c.txt": "c\n"}


def _why(project, state, target="app") -> dict:
    done = cli(project, "why", target, "--state-dir", str(state), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _build(project, state, *extra: str) -> None:
    done = cli(project, "build", "--state-dir", str(state), "--progress", "quiet", *extra, "app")
    assert done.returncode == 0, done.stderr


def test_why_names_the_first_build_a_changed_file_a_build_arg_and_no_cache(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, FILES)
    with fresh_state() as state:
        missing = cli(project, "why", "app", "--state-dir", str(state))
        assert missing.returncode != 0
        assert "no build of target 'app'" in missing.stderr

        _build(project, state)
        first = _why(project, state)
        assert first["ran"] == first["steps"] == 4  # FROM, COPY, two RUNs
        assert [c["cause"] for c in first["causes"]] == ["no-record"]
        assert first["causes"][0]["steps_ran"] == 4

        (project / "src" / "b.txt").write_text("b, changed\n")
        (project / "src" / "d.txt").write_text("d\n")
        _build(project, state)
        changed = _why(project, state)
        assert (changed["ran"], changed["cached"]) == (3, 1)
        [cause] = changed["causes"]
        assert cause["cause"] == "context-file"
        assert cause["detail"] == {"changed": ["src/b.txt"], "added": ["src/d.txt"], "removed": []}
        assert cause["step"].endswith("COPY src/ /src/")
        assert cause["steps_ran"] == 3
        text = cli(project, "why", "app", "--state-dir", str(state)).stdout
        assert "src/b.txt changed; src/d.txt added → [app 2/4] COPY src/ /src/ → 3 steps ran" in text

        _build(project, state, "--set", "app.args.GREETING=bye")
        arg = _why(project, state)
        [cause] = arg["causes"]
        assert cause["cause"] == "build-arg"
        assert cause["detail"] == {"name": "GREETING", "old": "hello", "new": "bye"}
        assert cause["step"].startswith('[app 3/4] RUN echo "bye"')  # matched by its place: the label changed
        assert (arg["ran"], cause["steps_ran"]) == (2, 2)
        assert (
            "GREETING changed ('hello' → 'bye')"
            in cli(project, "why", "app", "--state-dir", str(state)).stdout
        )

        _build(project, state, "--set", "app.args.GREETING=bye")
        unchanged = _why(project, state)
        assert (unchanged["ran"], unchanged["cached"], unchanged["causes"]) == (0, 4, [])

        _build(project, state, "--no-cache", "--set", "app.args.GREETING=bye")
        forced = _why(project, state)
        assert forced["ran"] == 4
        assert {c["cause"] for c in forced["causes"]} == {"no-cache"}


def test_steps_served_from_an_imported_cache_count_as_cached_on_an_empty_state_dir(tmp_path):
    bake = textwrap.dedent("""\
        target "app" {
          output = ["type=local,dest=out"]
          cache-to = ["type=local,dest=cache,mode=max"]
          cache-from = ["type=local,src=cache"]
        }
        """)
    project = write_project(tmp_path / "p", DOCKERFILE, bake, {**FILES, "src/a.txt": f"a {tmp_path.name}\n"})
    with fresh_state() as first:
        _build(project, first)
    with fresh_state() as runner:  # a CI runner: nothing local, everything from cache-from
        _build(project, runner)
        report = _why(project, runner)
        assert (report["ran"], report["cached"], report["imported"]) == (0, 4, 4)
        assert report["causes"] == []

        (project / "src" / "c.txt").write_text("c, changed\n")
        _build(project, runner)
        changed = _why(project, runner)
        assert (changed["ran"], changed["cached"]) == (3, 1)
        [cause] = changed["causes"]
        assert (cause["cause"], cause["detail"]["changed"]) == ("context-file", ["src/c.txt"])
