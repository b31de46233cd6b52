"""The bakec CLI end to end: `all`, bakec's YAML and Jinja2 forms, check, errors and exit codes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from .bake_corpus import run_cli


def _run(tmp_path: Path, files: dict[str, str], *args: str, env: dict[str, str] | None = None):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BAKEC_STATE_DIR": str(tmp_path / ".state")}
    return run_cli(list(args), tmp_path, {**base, **(env or {})})


HCL = """
target "_base" { args = { A = "1" } }
target "api" { inherits = ["_base"] }
target "web" { inherits = ["_base"] }
"""


def test_all_means_every_listed_target(tmp_path):
    code, out, err = _run(tmp_path, {"docker-bake.hcl": HCL}, "build", "--print", "all")
    assert code == 0, err
    data = json.loads(out)
    assert sorted(data["target"]) == ["api", "web"]
    assert data["group"]["default"]["targets"] == ["api", "web"]
    assert data["target"]["api"]["args"] == {"A": "1"}


def test_all_defined_in_the_file_wins(tmp_path):
    files = {"docker-bake.hcl": HCL + 'group "all" { targets = ["api"] }\n'}
    code, out, _ = _run(tmp_path, files, "build", "--print", "all")
    assert code == 0
    assert sorted(json.loads(out)["target"]) == ["api"]


def test_own_yaml_form_is_read_like_json(tmp_path):
    files = {
        "bake.yaml": """
        variable:
          TAG: {default: "1.0"}
        target:
          app:
            tags: ["acme/app:${TAG}"]
            platforms: [linux/amd64]
        """
    }
    code, out, err = _run(tmp_path, files, "build", "-f", "bake.yaml", "--print", "app", env={"TAG": "2.0"})
    assert code == 0, err
    assert json.loads(out)["target"]["app"]["tags"] == ["acme/app:2.0"]


def test_yaml_with_services_is_compose(tmp_path):
    files = {
        "stack.yaml": """
        services:
          web:
            build: ./web
            image: acme/web:1
        """
    }
    code, out, err = _run(tmp_path, files, "build", "-f", "stack.yaml", "--print", "web")
    assert code == 0, err
    target = json.loads(out)["target"]["web"]
    assert target["context"] == "web" and target["tags"] == ["acme/web:1"]


def test_jinja2_template_is_rendered_with_env_and_vars(tmp_path):
    files = {
        "release.yaml.j2": """
        target:
        {% for arch in ARCHES.split(",") %}
          app-{{ arch }}:
            platforms: [linux/{{ arch }}]
            tags: ["acme/app:{{ CHANNEL }}-{{ arch }}"]
        {% endfor %}
        """
    }
    code, out, err = _run(
        tmp_path,
        files,
        "build",
        "-f",
        "release.yaml.j2",
        "--var",
        "CHANNEL=beta",
        "--print",
        "app-amd64",
        "app-arm64",
        env={"ARCHES": "amd64,arm64"},
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["target"]["app-arm64"]["tags"] == ["acme/app:beta-arm64"]


def test_error_has_position_excerpt_and_suggestion(tmp_path):
    files = {
        "docker-bake.hcl": 'variable "VERSION" {\n  default = "1"\n}\n\ntarget "default" {\n  tags = ["app:${VERSIO}"]\n}\n'
    }
    code, out, err = _run(tmp_path, files, "build", "--print")
    assert code == 1
    assert err.splitlines()[0] == "docker-bake.hcl:6"
    assert '   6 | >>>   tags = ["app:${VERSIO}"]' in err
    assert err.rstrip().endswith(
        'ERROR: docker-bake.hcl:6,18-24: Unknown variable; There is no variable named "VERSIO". Did you mean "VERSION"?'
    )


def test_usage_error_exits_2(tmp_path):
    code, _, err = _run(tmp_path, {"docker-bake.hcl": HCL}, "build", "--no-such-flag")
    assert code == 2
    assert err.startswith("ERROR: ")


def test_check_reports_typos_cycles_and_unused_variables(tmp_path):
    files = {
        "docker-bake.hcl": """
        variable "USED" { default = "1" }
        variable "UNUSED" { default = "x" }
        target "a" { inherits = ["b"] }
        target "b" {
          inherits = ["a"]
          tagz = ["app:${USED}"]
        }
        """
    }
    code, out, _ = _run(tmp_path, files, "check", "b")
    assert code == 1
    assert 'unknown attribute "tagz"; did you mean "tags"?' in out
    assert "inherits cycle: a -> b -> a" in out
    assert 'variable "UNUSED" is not used by any selected target' in out
    assert 'variable "USED"' not in out


def test_check_clean_file_exits_0(tmp_path):
    files = {"docker-bake.hcl": 'target "default" { tags = ["a"] }\n', "Dockerfile": "FROM busybox\n"}
    code, out, _ = _run(tmp_path, files, "check")
    assert code == 0
    assert out.strip().endswith("0 error(s), 0 warning(s)")


def test_parse_cache_gives_the_same_result_and_never_caches_errors(tmp_path):
    files = {"docker-bake.hcl": 'variable "V" { default = "1" }\ntarget "default" { tags = ["a:${V}"] }\n'}
    (tmp_path / ".state").mkdir()  # the parse cache is written only into an existing state dir
    first = _run(tmp_path, files, "build", "--print")
    cached = list((tmp_path / ".state" / "cache" / "hcl").glob("*.pickle"))
    second = _run(tmp_path, files, "build", "--print")
    assert first[0] == 0 and first[1] == second[1]
    assert len(cached) == 1
    broken = {"docker-bake.hcl": 'target "default" {\n  tags = ["a"\n}\n'}
    code, _, err = _run(tmp_path, broken, "build", "--print")
    assert code == 1 and "docker-bake.hcl:" in err
    assert len(list((tmp_path / ".state" / "cache" / "hcl").glob("*.pickle"))) == 1


def test_read_only_commands_create_no_state_dir(tmp_path):
    files = {
        "docker-bake.hcl": 'target "default" { tags = ["a"] }\n',
        "Dockerfile": "FROM busybox\n",
    }
    for args in (["build", "--print"], ["build", "--list", "targets"], ["plan"], ["check"]):
        code, _, err = _run(tmp_path, files, *args)
        assert code == 0, (args, err)
        assert not (tmp_path / ".state").exists(), args
