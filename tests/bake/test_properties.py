"""Property tests: any input either evaluates or raises BakecError; syntax errors carry a position.

Inputs are random HCL built from the grammar's pieces, byte-level mutations of
the conformance corpus files, random JSON documents, and random YAML/compose
documents. Nothing but :class:`bakec.errors.BakecError` may escape.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakec.bake.definition import load
from bakec.bake.hcl.jsonsyntax import parse_json
from bakec.bake.hcl.parse import parse_hcl
from bakec.errors import BakecError
from corpus import conformance

SETTINGS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def _evaluate(files: dict[str, bytes], args: list[str] | None = None) -> None:
    """Load and print; only BakecError may escape."""
    with tempfile.TemporaryDirectory(prefix="bakec-prop-") as tmp:
        for name, data in files.items():
            Path(tmp, name).write_bytes(data)
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "BAKEC_STATE_DIR": str(Path(tmp, "state"))}
        try:
            definition = load(list(files), env=env, cwd=tmp)
            definition.print_json(args or [])
        except BakecError:
            pass


# -- random HCL from grammar pieces ---------------------------------------------------
identifiers = st.sampled_from(["a", "b", "TAG", "x", "target", "default", "v1", "in", "for", "null"])
literals = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.sampled_from(
        [
            '"s"',
            '"${a}"',
            '"%{ if true }y%{ endif }"',
            "true",
            "null",
            "1.5",
            '"$${x}"',
            "<<EOT\nh ${b}\nEOT\n",
        ]
    ),
)


@st.composite
def expressions(draw, depth: int = 0):
    if depth > 3:
        return draw(st.one_of(literals, identifiers))
    sub = expressions(depth + 1)
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"[{', '.join(draw(st.lists(sub, max_size=3)))}]"
    if kind == 1:
        items = draw(st.lists(st.tuples(identifiers, sub), max_size=3))
        return "{" + ", ".join(f"{k} = {v}" for k, v in items) + "}"
    if kind == 2:
        return f"{draw(sub)} {draw(st.sampled_from(['+', '-', '*', '/', '%', '==', '&&', '<', '||']))} {draw(sub)}"
    if kind == 3:
        return f"{draw(sub)} ? {draw(sub)} : {draw(sub)}"
    if kind == 4:
        fn = draw(
            st.sampled_from(
                ["upper", "join", "length", "concat", "merge", "format", "try", "can", "nofn", "lookup"]
            )
        )
        return f"{fn}({', '.join(draw(st.lists(sub, max_size=3)))})"
    if kind == 5:
        return f"[for k, v in {draw(sub)} : v if k != 0]"
    if kind == 6:
        return f"{draw(sub)}[{draw(sub)}]"
    if kind == 7:
        return f"{draw(sub)}.*.x"
    if kind == 8:
        return f"({draw(sub)})"
    return draw(st.one_of(literals, identifiers))


@st.composite
def hcl_files(draw):
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["target", "variable", "group", "function", "bogus"]))
        name = draw(st.sampled_from(["default", "app", "a.b", "x"]))
        attrs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        [
                            "tags",
                            "args",
                            "default",
                            "targets",
                            "inherits",
                            "matrix",
                            "name",
                            "context",
                            "platforms",
                            "result",
                            "params",
                            "output",
                            "no-cache",
                            "contexts",
                        ]
                    ),
                    expressions(),
                ),
                max_size=4,
                unique_by=lambda t: t[0],
            )
        )
        body = "\n".join(f"  {k} = {v}" for k, v in attrs)
        blocks.append(f'{kind} "{name}" {{\n{body}\n}}\n')
    return "".join(blocks)


@SETTINGS
@given(hcl_files())
def test_random_hcl_evaluates_or_raises_bakec_error(text):
    _evaluate({"docker-bake.hcl": text.encode()})


# -- mutations of real files -------------------------------------------------------------
def _corpus_files(suffix: str) -> list[bytes]:
    out = []
    for corpus in ("bake", "realworld"):
        out.extend(
            p.read_bytes()
            for p in sorted(conformance(corpus).rglob(f"*{suffix}"))
            if p.name not in ("case.json", "expected.json")
        )
    return out


HCL_SEEDS = _corpus_files(".hcl")
JSON_SEEDS = _corpus_files(".json")
YAML_SEEDS = _corpus_files(".yaml") + _corpus_files(".yml")


@st.composite
def mutated(draw, seeds: list[bytes]):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 2))
        if op == 0:
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == 1:
            data[pos:pos] = draw(
                st.sampled_from([b"{", b"}", b'"', b"${", b"%{", b"\n", b"[", b",", b"=", b"\xff", b"~"])
            )
        else:
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@SETTINGS
@given(st.data())
def test_mutated_hcl_evaluates_or_raises_bakec_error(data):
    _evaluate({"docker-bake.hcl": data.draw(mutated(HCL_SEEDS))})


@SETTINGS
@given(st.data())
def test_mutated_json_evaluates_or_raises_bakec_error(data):
    _evaluate({"docker-bake.json": data.draw(mutated(JSON_SEEDS))})


@SETTINGS
@given(st.data())
def test_mutated_compose_evaluates_or_raises_bakec_error(data):
    _evaluate({"compose.yaml": data.draw(mutated(YAML_SEEDS))})


# -- random documents --------------------------------------------------------------------
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(["${a}", '${upper("x")}', "$${x}", "%{ if true }a%{ endif }"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
bake_documents = st.fixed_dictionaries(
    {},
    optional={
        "target": st.dictionaries(st.sampled_from(["default", "app", "x y"]), json_values, max_size=2),
        "group": st.dictionaries(st.sampled_from(["default", "g"]), json_values, max_size=2),
        "variable": st.dictionaries(st.sampled_from(["a", "TAG"]), json_values, max_size=2),
        "function": st.dictionaries(st.sampled_from(["f"]), json_values, max_size=1),
    },
)


@SETTINGS
@given(bake_documents)
def test_random_json_evaluates_or_raises_bakec_error(document):
    _evaluate({"docker-bake.json": json.dumps(document).encode()})


@SETTINGS
@given(bake_documents)
def test_random_own_yaml_evaluates_or_raises_bakec_error(document):
    _evaluate({"bake.yaml": yaml.safe_dump(document).encode()})


compose_documents = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["web", "api", "a.b"]), json_values, max_size=3)},
    optional={"secrets": json_values, "x-bake": json_values},
)


@SETTINGS
@given(compose_documents)
def test_random_compose_evaluates_or_raises_bakec_error(document):
    _evaluate({"compose.yaml": yaml.safe_dump(document).encode()})


# -- syntax errors carry a position ---------------------------------------------------------
@SETTINGS
@given(st.data())
def test_hcl_syntax_errors_have_a_position(data):
    text = data.draw(mutated(HCL_SEEDS))
    try:
        parse_hcl(text, "docker-bake.hcl")
    except BakecError as err:
        assert err.range is not None, err.message


@SETTINGS
@given(st.data())
def test_json_syntax_errors_have_a_position(data):
    text = data.draw(mutated(JSON_SEEDS))
    try:
        parse_json(text, "docker-bake.json")
    except BakecError as err:
        assert err.range is not None, err.message
