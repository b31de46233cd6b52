"""Hostile input ends in a clean, positioned error within bounded memory and time, never a traceback.

Each case runs bakec as a subprocess under a 1 GiB address-space cap and a timeout, as a
user's shell would, so a runaway allocation or recursion fails the test instead of the machine.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from limited import DOCKERFILE_MEMORY_CAP, MEMORY_CAP, TIMEOUT, bakec


def assert_clean_error(result: subprocess.CompletedProcess, pattern: str, source_line: str = "") -> str:
    """Exit 1, ``ERROR: <pattern>`` on stderr, the source line quoted, no traceback or internal error."""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, err[-2000:]
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert re.search(r"^ERROR: " + pattern, err, re.M), err[-2000:]
    if source_line:
        assert re.search(r"^\s+\d+ \| >>> " + re.escape(source_line), err, re.M), err[-2000:]
    return err


def printed_args(result: subprocess.CompletedProcess, target: str = "a") -> dict:
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return json.loads(result.stdout)["target"][target]["args"]


# --- nesting -------------------------------------------------------------------------------------

# Each HCL form nests `n` levels inside `target "a" { args = { X = ... } }`, whose two braces
# (and jsonencode's parenthesis) count too.
HCL_NESTING = {
    "brackets": (lambda n: "jsonencode(" + "[" * n + '"x"' + "]" * n + ")", '"x"'),
    "parentheses": (lambda n: "(" * n + '"x"' + ")" * n, "x"),
    "objects": (lambda n: "jsonencode(" + "{a=" * n + '"x"' + "}" * n + ")", None),
    "templates": (lambda n: '"${' * n + '"x"' + '}"' * n, "x"),
}


def _hcl(expression: str) -> str:
    return 'target "a" {\n  args = { X = ' + expression + " }\n}\n"


@pytest.mark.parametrize("kind", sorted(HCL_NESTING))
def test_hcl_nested_1000_deep_evaluates(tmp_path, kind):
    build, expected = HCL_NESTING[kind]
    (tmp_path / "docker-bake.hcl").write_text(_hcl(build(1000)))
    value = printed_args(bakec(tmp_path, "build", "--print", "a"))["X"]
    if kind == "brackets":
        assert value == "[" * 1000 + '"x"' + "]" * 1000
    elif kind == "objects":
        assert value == '{"a":' * 1000 + '"x"' + "}" * 1000
    else:
        assert value == expected


@pytest.mark.parametrize("kind", sorted(HCL_NESTING))
def test_hcl_nested_past_the_limit_is_a_positioned_error(tmp_path, kind):
    build, _ = HCL_NESTING[kind]
    (tmp_path / "docker-bake.hcl").write_text(_hcl(build(6000)))
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "a"),
        r"docker-bake\.hcl:2,\d+-\d+: Nesting too deep; Expressions may nest at most 5000 levels deep\.",
        "  args = { X = ",
    )


def test_hcl_nesting_limit_is_exact(tmp_path):
    # target block, args object, then parentheses: 5000 levels in all is accepted, 5001 is not.
    (tmp_path / "ok.hcl").write_text(_hcl("(" * 4998 + '"x"' + ")" * 4998))
    assert printed_args(bakec(tmp_path, "build", "-f", "ok.hcl", "--print", "a"))["X"] == "x"
    (tmp_path / "deep.hcl").write_text(_hcl("(" * 4999 + '"x"' + ")" * 4999))
    assert_clean_error(
        bakec(tmp_path, "build", "-f", "deep.hcl", "--print", "a"),
        r"deep\.hcl:2,5014-5015: Nesting too deep",
    )


def test_hcl_nesting_counts_neither_comments_nor_escaped_templates(tmp_path):
    text = (
        "# " + "(" * 6000 + "\n"
        "/* " + "[" * 6000 + " */\n"
        'target "a" {\n  args = {\n    X = "'
        + "$${a}" * 6000
        + '"\n    Y = <<EOT\n'
        + "$${a}" * 6000
        + "\nEOT\n  }\n}\n"
    )
    (tmp_path / "docker-bake.hcl").write_text(text)
    args = printed_args(bakec(tmp_path, "build", "--print", "a"))
    assert args["X"].count("{a}") == 6000 and args["Y"].count("{a}") == 6000


def _json(n: int) -> str:
    return json.dumps(
        {"variable": {"V": {"default": None}}, "target": {"a": {"args": {"X": "${jsonencode(V)}"}}}}
    ).replace("null", "[" * n + '"x"' + "]" * n)


def test_json_nested_1000_deep_evaluates(tmp_path):
    (tmp_path / "docker-bake.json").write_text(_json(1000))
    args = printed_args(bakec(tmp_path, "build", "--print", "a"))
    assert args["X"] == "[" * 1000 + '"x"' + "]" * 1000


def test_json_nested_past_the_limit_is_a_positioned_error(tmp_path):
    (tmp_path / "docker-bake.json").write_text(_json(6000))
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "a"),
        r"docker-bake\.json:1,5029-5030: Nesting too deep",
        '{"variable"',
    )


def _dockerfile_plan(tmp_path: Path, dockerfile: bytes) -> subprocess.CompletedProcess:
    (tmp_path / "Dockerfile").write_bytes(dockerfile)
    (tmp_path / "docker-bake.hcl").write_text('target "a" {}\n')
    return bakec(tmp_path, "plan", "--format", "json", "a", memory=DOCKERFILE_MEMORY_CAP)


def _expansions(n: int) -> bytes:
    return ("FROM busybox\nARG a\nENV X=" + "${a:-" * n + "x" + "}" * n + "\nRUN echo $X\n").encode()


def test_dockerfile_expansions_nested_2000_deep_expand(tmp_path):
    result = _dockerfile_plan(tmp_path, _expansions(2000))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "echo x" in result.stdout.decode()


def test_dockerfile_expansions_past_the_limit_are_a_positioned_error(tmp_path):
    err = assert_clean_error(
        _dockerfile_plan(tmp_path, _expansions(6000)),
        r"target a: failed to solve: nesting too deep: more than 5000 nested \$\{\.\.\.\} expansions$",
    )
    assert err.startswith("Dockerfile:3\n")  # positioned by the excerpt's header
    assert len(err) < 2000  # the 36 KB word is not quoted back whole


def test_dockerfile_with_invalid_utf8_is_a_positioned_error(tmp_path):
    result = _dockerfile_plan(tmp_path, b"FROM busybox\nRUN echo caf\xe9\n")
    assert_clean_error(
        result,
        r"Dockerfile:2,13-14: Invalid character encoding; All input files must be UTF-8 encoded\.",
        "RUN echo caf",
    )


# --- YAML aliases --------------------------------------------------------------------------------


def _billion_laughs(top: str) -> str:
    lines = ['a0: &a0 "lol"']
    for level in range(1, 10):
        refs = ", ".join(f"*a{level - 1}" for _ in range(9))
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n" + top


def test_compose_alias_bomb_is_refused_at_once(tmp_path):
    text = _billion_laughs("services:\n  app:\n    image: app\n    x-bomb: *a9\n")
    (tmp_path / "compose.yaml").write_text(text)
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "app"), "yaml: document contains excessive aliasing$"
    )


def test_own_yaml_alias_bomb_is_refused_at_once(tmp_path):
    text = _billion_laughs('target:\n  app:\n    args: {X: "1"}\nvariable:\n  V: {default: *a9}\n')
    (tmp_path / "bake.yaml").write_text(text)
    assert_clean_error(
        bakec(tmp_path, "build", "-f", "bake.yaml", "--print", "app"),
        "bake.yaml: invalid YAML: document contains excessive aliasing$",
    )


def test_modest_aliasing_still_loads(tmp_path):
    text = "x-base: &base\n  build: .\n  image: app\n  environment: {A: '1'}\nservices:\n" + "".join(
        f"  s{i}:\n    <<: *base\n" for i in range(50)
    )
    (tmp_path / "compose.yaml").write_text(text)
    result = bakec(tmp_path, "build", "--print", "s7")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["target"]["s7"]["tags"] == ["app"]


# --- file sizes and kinds ------------------------------------------------------------------------


def test_bake_file_from_a_device_is_refused(tmp_path):
    assert_clean_error(
        bakec(tmp_path, "build", "-f", "/dev/zero", "--print"),
        "read /dev/zero: is a device, not a regular file$",
    )


def test_bake_file_over_the_size_cap_is_refused(tmp_path):
    with open(tmp_path / "big.hcl", "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)  # sparse: costs no disk
    assert_clean_error(
        bakec(tmp_path, "build", "-f", "big.hcl", "--print"),
        "read big.hcl: file too large: bakec reads at most 16 MiB$",
    )


def test_bake_file_from_an_endless_pipe_is_read_up_to_the_cap(tmp_path):
    script = f"exec {sys.executable} -m bakec.cli.main build -f <(cat /dev/zero) --print"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP)),
    )
    assert_clean_error(result, r"read /dev/fd/\d+: file too large: bakec reads at most 16 MiB$")


def test_bake_file_from_stdin_is_read_up_to_the_cap(tmp_path):
    result = bakec(tmp_path, "build", "-f", "-", "--print", stdin=b"#" * (16 * 1024 * 1024 + 1))
    assert_clean_error(result, "read -: file too large: bakec reads at most 16 MiB$")


def test_dockerfile_from_a_device_is_refused(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text('target "a" {\n  dockerfile = "/dev/zero"\n}\n')
    result = bakec(tmp_path, "plan", "a", memory=DOCKERFILE_MEMORY_CAP)
    assert_clean_error(result, "read /dev/zero: is a device, not a regular file$")


def test_dockerfile_over_the_size_cap_is_refused(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text('target "a" {}\n')
    with open(tmp_path / "Dockerfile", "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    result = bakec(tmp_path, "plan", "a", memory=DOCKERFILE_MEMORY_CAP)
    assert_clean_error(result, "read Dockerfile: file too large: bakec reads at most 16 MiB$")


# --- function results ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ['format("%0999999999d", 1)', 'format("%.999999999f", 1)', 'formatlist("%0999999999s", ["a"])'],
)
def test_format_width_past_the_cap_is_a_positioned_error(tmp_path, expression):
    (tmp_path / "docker-bake.hcl").write_text(_hcl(expression))
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "a"),
        r"docker-bake\.hcl:2,\d+-\d+: Error in function call; Call to function \"format(list)?\" failed: "
        r"(error on format iteration 0: )?width or precision [0-9]+ is over the limit of 1000000\.",
        "  args = { X = ",
    )


def test_format_width_up_to_the_cap_works(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(_hcl('strlen(format("%01000000d", 7))'))
    result = bakec(tmp_path, "build", "--print", "a")
    assert printed_args(result)["X"] == "1000000"


def test_string_results_past_the_cap_are_refused(tmp_path):
    # Each call stays under the width cap; the repetition is what grows: 2**25 characters.
    doubled = 'format("%0999999d", 1)'
    for _ in range(6):
        doubled = f'join("", [{doubled}, {doubled}])'
    (tmp_path / "docker-bake.hcl").write_text(_hcl(f"strlen({doubled})"))
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "a"),
        r"docker-bake\.hcl:2,\d+-\d+: Error in function call; Call to function \"join\" failed: "
        r"the result is over the limit of 16777216 characters\.",
    )


# --- matrix --------------------------------------------------------------------------------------


def _matrix(rows: int, columns: int) -> str:
    return (
        'target "m" {\n'
        f"  matrix = {{ x = range({rows}), y = [for i in range({columns}) : i] }}\n"
        '  name = "m-${x}-${y}"\n'
        '  args = { X = "${x}", Y = "${y}" }\n'
        "}\n"
    )


def test_matrix_up_to_the_cap_expands(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(_matrix(100, 100))
    result = bakec(tmp_path, "build", "--print", "m-99-42")
    assert printed_args(result, "m-99-42") == {"X": "99", "Y": "42"}


def test_matrix_past_the_cap_is_a_positioned_error(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(_matrix(1000, 1000))
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "m-1-1"),
        r"docker-bake\.hcl:2,12-\d+: Too many targets; This matrix generates 1000000 targets; "
        r"at most 10000 may be generated in all\.",
        "  matrix = {",
    )


def test_matrix_cap_counts_every_matrix(tmp_path):
    text = _matrix(100, 60) + _matrix(100, 60).replace('"m"', '"n"').replace('"m-', '"n-')
    (tmp_path / "docker-bake.hcl").write_text(text)
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "m-1-1"),
        r"docker-bake\.hcl:7,12-\d+: Too many targets; This matrix generates 6000 targets; "
        r"at most 10000 may be generated in all\.",
    )


# --- memory proportional to input ----------------------------------------------------------------


def _peak_rss(tmp_path: Path, *args: str) -> tuple[int, bytes, bytes, int]:
    """Run bakec; its exit code, stdout, stderr and peak resident memory in bytes (``wait4``)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bakec.cli.main", *args],
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP)),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.read_bytes(), err.read_bytes(), usage.ru_maxrss * 1024


def test_a_10_mb_string_costs_memory_in_proportion(tmp_path):
    (tmp_path / "docker-bake.hcl").write_text(_hcl('"' + "a" * 10_000_000 + '"'))
    code, out, err, peak = _peak_rss(tmp_path, "build", "--print", "a")
    assert code == 0, err[-2000:]
    assert json.loads(out)["target"]["a"]["args"]["X"] == "a" * 10_000_000
    assert peak < 200 * 1024 * 1024, peak  # was 2 GB


def test_a_long_comment_and_heredoc_cost_memory_in_proportion(tmp_path):
    text = "/* " + "x" * 5_000_000 + " */\n" + _hcl("<<EOT\n" + ("a" * 99 + "\n") * 50_000 + "EOT\n")
    (tmp_path / "docker-bake.hcl").write_text(text)
    code, out, err, peak = _peak_rss(tmp_path, "build", "--print", "a")
    assert code == 0, err[-2000:]
    assert json.loads(out)["target"]["a"]["args"]["X"] == ("a" * 99 + "\n") * 50_000
    assert peak < 200 * 1024 * 1024, peak  # was 1.1 GB


def test_a_10_mb_json_string_costs_memory_in_proportion(tmp_path):
    (tmp_path / "docker-bake.json").write_text(
        json.dumps({"target": {"a": {"args": {"X": "a" * 10_000_000}}}})
    )
    code, out, err, peak = _peak_rss(tmp_path, "build", "--print", "a")
    assert code == 0, err[-2000:]
    assert json.loads(out)["target"]["a"]["args"]["X"] == "a" * 10_000_000
    assert peak < 200 * 1024 * 1024, peak


def test_json_nesting_does_not_count_brackets_in_strings(tmp_path):
    value = '\\"' + "[" * 6000 + "{" * 6000
    (tmp_path / "docker-bake.json").write_text('{"target": {"a": {"args": {"X": "' + value + '"}}}}')
    args = printed_args(bakec(tmp_path, "build", "--print", "a"))
    assert args["X"] == '"' + "[" * 6000 + "{" * 6000


def _flow(n: int) -> str:
    return "[" * n + "x" + "]" * n


def test_yaml_flow_nesting_1000_deep_loads(tmp_path):
    own = 'target:\n  a:\n    args: {X: "1"}\nvariable:\n  V: {default: ' + _flow(999) + "}\n"
    (tmp_path / "bake.yaml").write_text(own)
    assert printed_args(bakec(tmp_path, "build", "-f", "bake.yaml", "--print", "a")) == {"X": "1"}
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    build: .\n    x-deep: " + _flow(1000) + "\n")
    result = bakec(tmp_path, "build", "-f", "compose.yaml", "--print", "a")
    assert result.returncode == 0, result.stderr.decode()[-2000:]


def test_yaml_flow_nesting_past_the_limit_is_refused_at_once(tmp_path):
    text = "services:\n  a:\n    build: .\n    x-deep: " + _flow(5000) + "\n"
    (tmp_path / "compose.yaml").write_text(text)
    assert_clean_error(
        bakec(tmp_path, "build", "--print", "a"),
        r"yaml: line 4: nesting too deep: more than 1000 levels of \[ and \{$",
    )


def test_yaml_nesting_ignores_quoted_and_commented_brackets(tmp_path):
    text = (
        "# " + "[" * 2000 + "\nservices:\n  a:\n    build: .\n    x-s: '" + "[" * 2000 + "'\n"
        '    x-d: "' + "{" * 2000 + '"\n'
    )
    (tmp_path / "compose.yaml").write_text(text)
    result = bakec(tmp_path, "build", "--print", "a")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
