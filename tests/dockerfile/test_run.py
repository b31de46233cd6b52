"""RUN: exec form, shell, heredocs, mounts, network and security, as plain data."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, plan

from bakec.dockerfile import DockerfileError, Mount, RunStep, Source

BASE = f"FROM {BUSYBOX}\n"


def run(text: str, **kwargs) -> RunStep:
    step = plan(BASE + text, **kwargs).target_stage.steps[-1]
    assert isinstance(step, RunStep)
    return step


def test_shell_and_exec_forms() -> None:
    assert run("RUN echo hi\n").args == ("/bin/sh", "-c", "echo hi")
    assert run('RUN ["/bin/sh", "-c", "echo x"]\n').args == ("/bin/sh", "-c", "echo x")
    assert run('SHELL ["/bin/busybox", "sh", "-c"]\nRUN a\n').args == ("/bin/busybox", "sh", "-c", "a")


def test_exec_environment_user_and_workdir() -> None:
    step = run("ENV E=1\nARG A=2\nWORKDIR /w\nUSER app\nRUN x\n")
    assert step.env == (("PATH", "/bin"), ("E", "1"), ("A", "2"))
    assert step.user == "app" and step.workdir == "/w"
    assert step.network == "default" and step.security == "sandbox"


def test_heredoc_script_runs_through_the_shell() -> None:
    step = run("RUN <<EOF\necho a\necho b\nEOF\n")
    assert step.args == ("/bin/sh", "-c", "echo a\necho b\n")
    assert step.history == "RUN /bin/sh -c echo a\necho b\n # buildkit"


def test_heredoc_with_shebang_is_mounted_as_a_file() -> None:
    step = run("RUN <<EOF\n#!/bin/busybox sh\necho hi\nEOF\n")
    assert step.args == ("/bin/sh", "-c", "/dev/pipes/EOF")
    assert step.files[0].name == "EOF" and step.files[0].mode == 0o755


def test_heredoc_chomp_and_complex_forms() -> None:
    assert run("RUN <<-EOF\n\t\techo x\n\tEOF\n").args[-1] == "echo x\n"
    step = run("RUN cat <<A > /a && cat <<B\none\nA\ntwo\nB\n")
    assert step.args[-1] == "cat <<A > /a && cat <<B\none\nA\ntwo\nB"


def test_mount_types_and_defaults() -> None:
    step = run(
        "WORKDIR /w\nRUN --mount=type=cache,target=c --mount=type=secret,id=s,env=TOKEN "
        "--mount=type=secret,target=/x/key --mount=type=ssh --mount=type=tmpfs,target=/t,size=1m "
        "--mount=target=/ctx --mount=type=bind,source=a.txt,target=/a,rw x\n"
    )
    cache, secret_env, secret_file, ssh, tmpfs, ctx, bind = step.mounts
    assert cache == Mount("cache", "/w/c", origin=Source("scratch"), id="c", sharing="shared")
    assert (secret_env.id, secret_env.target, secret_env.env, secret_env.required) == (
        "s",
        "",
        "TOKEN",
        False,
    )
    assert (secret_file.id, secret_file.target) == ("key", "/x/key")
    assert (ssh.id, ssh.target) == ("default", "/run/buildkit/ssh_agent.0")
    assert (tmpfs.size, tmpfs.readonly) == (1024 * 1024, False)
    assert ctx.origin == Source("context") and ctx.readonly
    assert bind.source == "a.txt" and not bind.readonly


def test_secret_default_target_and_required() -> None:
    (secret,) = run("RUN --mount=type=secret,id=tok,required x\n").mounts
    assert (secret.target, secret.required, secret.readonly) == ("/run/secrets/tok", True, True)


def test_relative_secret_and_ssh_targets_are_below_the_workdir() -> None:
    secret, ssh = run(
        "WORKDIR /w\nRUN --mount=type=secret,id=s,target=key --mount=type=ssh,target=agent x\n"
    ).mounts
    assert (secret.target, ssh.target) == ("/w/key", "/w/agent")


def test_mount_options_are_expanded() -> None:
    (cache,) = run(
        "ARG ID=abc\nRUN --mount=type=cache,id=$ID,target=/c,uid=1000,gid=1001,mode=0700,sharing=locked x\n"
    ).mounts
    assert (cache.id, cache.uid, cache.gid, cache.mode, cache.sharing) == ("abc", 1000, 1001, 0o700, "locked")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--mount=type=nope,target=/x", 'unsupported mount type "nope"'),
        ("--mount=type=bind,target=/x,mode=0700", 'mode not allowed for "bind" type mounts'),
        ("--mount=type=tmpfs,target=/x,uid=1", 'uid not allowed for "tmpfs" type mounts'),
        ("--mount=type=bind,target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("--mount=type=cache,target=/x,sharing=wide", 'unsupported sharing value "wide"'),
        ("--mount=type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
        ("--mount=type=secret,id=a,source=b", "both source and id can't be set"),
        ("--mount=type=secret,required=maybe,id=a", "invalid value for required: maybe"),
        ("--mount=type=bind,target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("--mount=type=bind,target=/x,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("--mount=type=cache,target=/", 'invalid mount target "/"'),
        ("--mount=type=cache,target=/x,uid=abc", "invalid value abc for uid"),
        ("--network=bridge", 'unsupported network mode "bridge"'),
        ("--security=root", 'unsupported security mode "root"'),
        ("--device=x", "unknown flag: --device"),
    ],
)
def test_invalid_run_flags(flag: str, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        run(f"RUN {flag} true\n")
    assert message in str(info.value)


def test_mount_from_with_variable_is_rejected() -> None:
    with pytest.raises(DockerfileError, match="'from' doesn't support variable expansion"):
        run("ARG S=x\nRUN --mount=from=$S,target=/m true\n")


def test_mount_from_a_later_stage_fails() -> None:
    with pytest.raises(DockerfileError, match="stage needs to be defined before current command"):
        plan(f"FROM {BUSYBOX} AS a\nRUN --mount=from=b,target=/m x\nFROM scratch AS b\nFROM a\n")


def test_entitlements_for_network_host_and_insecure() -> None:
    with pytest.raises(DockerfileError, match="network.host is not allowed"):
        run("RUN --network=host x\n")
    with pytest.raises(DockerfileError, match="security.insecure is not allowed"):
        run("RUN --security=insecure x\n")
    step = run(
        "RUN --network=host --security=insecure x\n", entitlements={"network.host", "security.insecure"}
    )
    assert (step.network, step.security) == ("host", "insecure")
    assert run("RUN --network=none x\n").network == "none"


def test_vertex_name_masks_secret_env_and_expands_known_variables() -> None:
    step = run('ARG V=1\nRUN --mount=type=secret,id=s,env=TOK echo "$V" $TOK $UNSET\n')
    assert step.description == '[2/2] RUN --mount=type=secret,id=s,env=TOK echo "1" **** $UNSET'
    assert step.layer_description == 'mount / from exec /bin/sh -c echo "$V" $TOK $UNSET'


def test_definition_leaves_presentation_out_so_shared_steps_key_alike() -> None:
    one = plan(f"FROM {BUSYBOX} AS a\nRUN make\n").stages[0].steps[0]
    two = plan(f"FROM scratch AS x\nFROM {BUSYBOX} AS other\nENV\tX=1\nENV X=\nRUN make\n", target="other")
    other = two.target_stage.steps[-1]
    assert one.description != other.description
    assert one.definition() != other.definition()  # X= is part of the environment
    same = plan(
        f"FROM scratch AS x\nFROM {BUSYBOX} AS other\nRUN  make\n", target="other"
    ).target_stage.steps[-1]
    assert same.definition()["args"] == ["/bin/sh", "-c", "make"]
    assert same.definition() == one.definition()
