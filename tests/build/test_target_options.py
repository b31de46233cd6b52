"""A target's network, extra-hosts, shm-size and ulimits reach every RUN; what bakec refuses fails the build."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from bakec.graph.target_options import REFUSED

from .helpers import BUSYBOX, bakec

DOCKERFILE = f"""\
FROM {BUSYBOX}
RUN cat /etc/hosts > /hosts
RUN df -k /dev/shm > /shm
RUN ulimit -n > /nofile && ulimit -Hn > /nofile-hard
RUN cat /proc/net/dev > /net
"""


def _project(root: Path, bake: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "docker-bake.hcl").write_text(textwrap.dedent(bake))
    return root


def _interfaces(proc_net_dev: str) -> set[str]:
    """Interface names from /proc/net/dev (two header lines, then ``name: counters``)."""
    return {line.split(":", 1)[0].strip() for line in proc_net_dev.splitlines()[2:] if ":" in line}


def _shm_kib(df: str) -> int:
    return int(df.splitlines()[1].split()[1])


def test_network_extra_hosts_shm_size_and_ulimits_reach_every_run(tmp_path, state_dir):
    project = _project(
        tmp_path / "p",
        """\
        group "default" { targets = ["tuned", "plain"] }
        target "tuned" {
          network = "none"
          extra-hosts = { "DB.internal" = "10.1.2.3", "cache" = "fd00::1" }
          shm-size = "128m"
          ulimits = ["nofile=1024:2048"]
          output = ["type=local,dest=tuned"]
        }
        target "plain" {
          output = ["type=local,dest=plain"]
        }
        """,
    )
    built = bakec(project, state_dir, "build")
    assert built.returncode == 0, built.stderr
    tuned, plain = project / "tuned", project / "plain"

    hosts = (tuned / "hosts").read_text().splitlines()
    # sorted by the names as written (byte order, as buildx sends them), lower-cased as BuildKit reads them
    assert hosts[2:] == ["10.1.2.3\tdb.internal", "fd00::1\tcache"]
    assert hosts[:2] == (plain / "hosts").read_text().splitlines()
    assert _shm_kib((tuned / "shm").read_text()) == 128 * 1024
    assert _shm_kib((plain / "shm").read_text()) == 64 * 1024  # BuildKit's default
    assert ((tuned / "nofile").read_text(), (tuned / "nofile-hard").read_text()) == ("1024\n", "2048\n")
    assert ((plain / "nofile").read_text(), (plain / "nofile-hard").read_text()) == ("1024\n", "1024\n")
    assert _interfaces((tuned / "net").read_text()) == {"lo"}
    assert _interfaces((plain / "net").read_text()) > {"lo"}

    # the options are part of each RUN's key: changing one reruns the RUNs, not the rest
    again = bakec(project, state_dir, "build", "--set", "tuned.shm-size=96m", "--progress=plain")
    assert again.returncode == 0, again.stderr
    assert _shm_kib((tuned / "shm").read_text()) == 96 * 1024
    assert again.stderr.count("CACHED") >= 5, again.stderr  # plain's steps and tuned's base image


def test_network_host_needs_its_entitlement_and_shares_the_host_namespace(tmp_path, state_dir):
    project = _project(
        tmp_path / "p",
        """\
        target "default" {
          network = "host"
          output = ["type=local,dest=out"]
        }
        """,
    )
    (project / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN readlink /proc/self/ns/net > /ns\n")
    refused = bakec(project, state_dir, "build")
    assert refused.returncode == 1
    assert 'Pass "--allow=network.host" to grant requested privileges.' in refused.stderr
    assert refused.stderr.rstrip().endswith("ERROR: additional privileges requested")

    built = bakec(project, state_dir, "build", "--allow", "network.host")
    assert built.returncode == 0, built.stderr
    assert (project / "out" / "ns").read_text().strip() == os.readlink("/proc/self/ns/net")


@pytest.mark.parametrize(
    ("attribute", "value", "shown"),
    [
        ("resources", '{ memory = "1g" }', "resources"),
        ("policy", '["filename=policy.rego"]', "policy"),
    ],
)
def test_a_refused_attribute_prints_but_fails_the_build(tmp_path, state_dir, attribute, value, shown):
    project = _project(
        tmp_path / "p",
        f"""\
        target "app" {{
          {attribute} = {value}
          output = ["type=local,dest=out"]
        }}
        """,
    )
    printed = bakec(project, state_dir, "build", "--print", "app")
    assert printed.returncode == 0, printed.stderr
    refused = bakec(project, state_dir, "build", "app")
    assert refused.returncode == 1
    assert f"ERROR: target app: {shown} is not supported; {REFUSED[attribute]}" in refused.stderr
    assert not (project / "out").exists()


def test_a_target_whose_call_is_not_build_is_answered_without_building(tmp_path, state_dir):
    project = _project(
        tmp_path / "p",
        """\
        target "app" {
          call = "nope"
          output = ["type=local,dest=out"]
        }
        target "listed" {
          call = "targets"
          output = ["type=local,dest=out"]
        }
        """,
    )
    assert bakec(project, state_dir, "build", "--print", "app").returncode == 0
    refused = bakec(project, state_dir, "build", "app")
    assert refused.returncode == 2
    assert 'ERROR: unsupported call method "nope"' in refused.stderr
    listed = bakec(project, state_dir, "build", "listed")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("TARGET")
    assert not (project / "out").exists()
