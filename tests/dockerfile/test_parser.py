"""Directives, escape handling, continuations and parse errors."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, history, plan

from bakec.dockerfile import DockerfileError
from bakec.dockerfile.parser import Flags, parse, parse_heredoc, read_directives


def test_directives_are_read_only_at_the_top() -> None:
    d = read_directives("# syntax=docker/dockerfile:1\n#check=skip=all\n# escape=`\nFROM x\n")
    assert (d.syntax, d.check, d.escape) == ("docker/dockerfile:1", "skip=all", "`")
    assert read_directives("\n# escape=`\nFROM x\n").escape == "\\"
    assert read_directives("# comment\n# escape=`\nFROM x\n").escape == "\\"
    assert read_directives("# unknown=1\n# escape=`\n").escape == "\\"


def test_escape_after_check_directive_is_honoured() -> None:
    # The bundled parser stops its directive block at `check`; we must not.
    p = plan(f"# check=skip=all\n# escape=`\nFROM {BUSYBOX}\nRUN echo a `\n  b\nRUN echo 'a\\b'\n")
    assert history(p) == ["RUN /bin/sh -c echo a   b # buildkit", "RUN /bin/sh -c echo 'a\\b' # buildkit"]


def test_directive_errors() -> None:
    with pytest.raises(DockerfileError, match="only one escape parser directive can be used"):
        read_directives("# escape=`\n# escape=\\\n")
    with pytest.raises(DockerfileError, match="invalid escape token"):
        read_directives("# escape=x\n")


def test_continuations_keep_whitespace_and_drop_comments_and_blank_lines() -> None:
    p = plan(f"FROM {BUSYBOX}\nRUN echo a \\\n# inside\n  b \\\n\n  c\n   run echo lower\n")
    assert history(p) == ["RUN /bin/sh -c echo a   b   c # buildkit", "RUN /bin/sh -c echo lower # buildkit"]


def test_unknown_instruction_has_position_and_hint() -> None:
    with pytest.raises(DockerfileError) as info:
        plan("FROM scratch\nFROMM scratch\n")
    assert info.value.line == 2
    assert (
        str(info.value)
        == "Dockerfile:2: dockerfile parse error on line 2: unknown instruction: FROMM (did you mean FROM?)"
    )


def test_go_parser_errors_are_located() -> None:
    with pytest.raises(DockerfileError) as info:
        plan("FROM scratch\nENV A=1\nLABEL x\n")
    assert info.value.line == 3
    assert "LABEL must have two arguments" in str(info.value)


def test_empty_dockerfile() -> None:
    with pytest.raises(DockerfileError, match="the Dockerfile cannot be empty"):
        plan("  \n")
    with pytest.raises(DockerfileError, match="dockerfile contains no stages to build"):
        plan("ARG A=1\n")


def test_syntax_is_recorded_only() -> None:
    assert plan("# syntax=docker/dockerfile:1.7\nFROM scratch\n").syntax == "docker/dockerfile:1.7"


def test_heredoc_markers() -> None:
    assert parse_heredoc("<<EOF").name == "EOF"
    assert parse_heredoc("<<-EOF").chomp
    assert not parse_heredoc('<<"EOF"').expand
    assert not parse_heredoc("<<'E'OF").expand
    assert parse_heredoc("<<EOF busybox sh") is None
    assert parse_heredoc("echo") is None


def test_nodes_keep_lines_and_heredoc_bodies() -> None:
    nodes = parse("FROM x\nRUN <<EOF\nhi\nEOF\n").nodes
    assert (nodes[1].start_line, nodes[1].end_line, nodes[1].heredocs) == (2, 4, (("EOF", "hi\n"),))


def test_flags_like_bflags() -> None:
    f = Flags(("--a=1", "--b", "--m=x", "--m=y"))
    f.add_string("a")
    f.add_bool("b")
    f.add_strings("m")
    f.parse()
    assert (f.string("a"), f.boolean("b"), f.strings("m")) == ("1", True, ("x", "y"))
    dup = Flags(("--a=1", "--a=2"))
    dup.add_string("a")
    with pytest.raises(ValueError, match="duplicate flag specified: --a"):
        dup.parse()


def test_onbuild_restrictions() -> None:
    with pytest.raises(DockerfileError, match="Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"):
        plan("FROM scratch\nONBUILD ONBUILD RUN x\n")
    with pytest.raises(DockerfileError, match="FROM isn't allowed as an ONBUILD trigger"):
        plan("FROM scratch\nONBUILD FROM x\n")


def test_shell_requires_json() -> None:
    with pytest.raises(DockerfileError, match="SHELL requires the arguments to be in JSON form"):
        plan("FROM scratch\nSHELL /bin/bash -c\n")


def test_lone_continuation_at_the_end_is_ignored() -> None:
    assert plan("FROM scratch\n\\\n").stages[0].steps == ()
