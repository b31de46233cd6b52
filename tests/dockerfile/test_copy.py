"""COPY and ADD: flags, destinations, heredocs, history text and validation."""

from __future__ import annotations

import pytest
from dockerfile_support import BUSYBOX, plan

from bakec.dockerfile import AddStep, CopyStep, DockerfileError, InlineFile, Source

BASE = f"FROM {BUSYBOX}\n"


def copy(text: str, **kwargs) -> CopyStep:
    step = plan(BASE + text, **kwargs).target_stage.steps[-1]
    assert isinstance(step, CopyStep)
    return step


def test_flags_and_history_text() -> None:
    step = copy("ARG M=640\nCOPY --chown=app:grp --chmod=$M --link --exclude=*.md --exclude=x a b /dst/\n")
    assert (step.chown, step.chmod, step.link, step.merge) == ("app:grp", "640", True, False)
    assert step.exclude == ("*.md", "x")
    assert step.sources == ("a", "b") and step.dest == "/dst/"
    assert step.history == "COPY --chown=app:grp --chmod=640 a b /dst/ # buildkit"


def test_link_without_chmod_is_a_merge() -> None:
    assert copy("COPY --link a /a\n").merge


def test_parents_is_shown_in_history() -> None:
    step = copy("COPY --parents ./x/./sub/*.txt /p/\n")
    assert step.parents and step.history == "COPY --parents ./x/./sub/*.txt /p/ # buildkit"


def test_destination_resolution_against_workdir() -> None:
    assert copy("WORKDIR /w\nCOPY a rel\n").dest == "/w/rel"
    assert copy("WORKDIR /w\nCOPY a .\n").dest == "/w/"
    assert copy("WORKDIR /w\nCOPY a sub/\n").dest == "/w/sub/"
    assert copy("COPY a //x/../y\n").dest == "/y"


def test_json_form_with_spaces_and_variables() -> None:
    step = copy('ARG D=/d\nCOPY ["a b", "$D/json form.txt"]\n')
    assert step.sources == ("a b",) and step.dest == "/d/json form.txt"
    assert step.history == "COPY a b /d/json form.txt # buildkit"


def test_heredocs_expand_unless_quoted_and_strip_tabs() -> None:
    p = plan(
        "FROM scratch\nARG N=world\nCOPY <<EOF <<'RAW' <<-TAB /d/\nhi $N \\$x\nEOF\nhi $N\nRAW\n\t\tx\n\tTAB\n"
    )
    step = p.target_stage.steps[-1]
    assert step.contents == (
        InlineFile("EOF", "hi world $x\n"),
        InlineFile("RAW", "hi $N\n"),
        InlineFile("TAB", "x\n"),
    )
    assert step.history == "COPY <<EOF <<RAW <<TAB /d/ # buildkit"


def test_heredoc_as_destination_is_rejected() -> None:
    with pytest.raises(DockerfileError, match="COPY cannot accept a heredoc as a destination"):
        plan("FROM scratch\nCOPY a <<EOF\nx\nEOF\n")


def test_copy_from_is_omitted_from_history() -> None:
    p = plan("FROM scratch AS a\nFROM scratch\nCOPY --from=a /x /y\n")
    assert p.target_stage.steps[0].history == "COPY /x /y # buildkit"
    assert p.target_stage.steps[0].origin == Source("stage", "a", 0)


def test_add_url_checksum_unpack_and_keep_git_dir() -> None:
    digest = "sha256:" + "a" * 64
    step = copy(f"ADD --checksum={digest} --unpack=true --chmod=644 http://h/x.tgz /x/\n")
    assert isinstance(step, AddStep)
    assert (step.checksum, step.unpack, step.keep_git_dir) == (digest, True, None)
    assert step.history == "ADD --chmod=644 http://h/x.tgz /x/ # buildkit"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "COPY --chmod=999 a /",
            "invalid chmod parameter: '999'. it should be octal string and between 0 and 07777",
        ),
        ("COPY --chmod=17777 a /", "invalid chmod parameter"),
        ("COPY --chmod=u+q a /", "invalid chmod parameter"),
        ("COPY --checksum=sha256:x a /", "unknown flag: --checksum"),
        ("ADD --checksum=sha256:" + "a" * 64 + " a /", "checksum requires HTTP(S) or Git sources"),
        ("ADD --checksum=md5:abc http://h/x /", "unsupported digest algorithm"),
        ("ADD --checksum=sha256:abc http://h/x /", "invalid checksum digest length"),
        ("COPY http://h/x /", "source can't be a URL for COPY"),
        ("COPY a", "COPY requires at least two arguments"),
        ("COPY --link=maybe a /", "expecting boolean value for flag --link, not: maybe"),
        ("COPY --from a /", "missing a value on flag: --from"),
        ("ADD --from=x a /", "unknown flag: --from"),
    ],
)
def test_validation_errors(line: str, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        plan(BASE + line + "\n")
    assert message in str(info.value)


def test_symbolic_chmod_is_accepted() -> None:
    for mode in ("+x", "u=rwX,go=rX", "g=u", "a-w"):
        assert copy(f"COPY --chmod={mode} a /\n").chmod == mode


def test_context_paths_are_collected_for_the_local_source() -> None:
    p = plan(BASE + "COPY a b/c /\nADD d http://h/x /\nRUN --mount=source=m,target=/m x\n")
    assert p.context_paths == ("/a", "/b/c", "/d", "/m")
