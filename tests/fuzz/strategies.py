"""Hypothesis strategies for the fuzz suite: bake files (HCL, JSON, compose), Dockerfiles and
``.dockerignore`` files, both built from their grammars and mutated from the conformance corpora.
"""

from __future__ import annotations

import json

import yaml
from hypothesis import strategies as st

from corpus import conformance

# -- the conformance corpora as seeds ----------------------------------------------------------


def _seeds(corpora: tuple[str, ...], match) -> list[bytes]:
    out = []
    for name in corpora:
        for path in sorted(conformance(name).rglob("*")):
            if path.is_file() and not path.name.startswith(("expected", "case.")) and match(path):
                out.append(path.read_bytes())
    return out or [b""]


BAKE = ("bake", "realworld")
HCL_SEEDS = _seeds(BAKE, lambda p: p.suffix == ".hcl")
JSON_SEEDS = _seeds(BAKE, lambda p: p.suffix == ".json")
COMPOSE_SEEDS = _seeds(BAKE, lambda p: p.suffix in (".yml", ".yaml"))
DOCKERFILE_SEEDS = _seeds(("dockerfile", "realworld"), lambda p: p.name.startswith("Dockerfile"))
DOCKERIGNORE_SEEDS = _seeds(("dockerfile", "realworld"), lambda p: p.name.endswith(".dockerignore"))

# Tokens whose insertion most often turns a valid file into an interesting invalid one.
HCL_TOKENS = [b"{", b"}", b'"', b"${", b"%{", b"\n", b"[", b"]", b",", b"=", b"(", b")", b"<<EOT\n", b"\\"]
JSON_TOKENS = [b"{", b"}", b'"', b"${", b"[", b"]", b",", b":", b"\\u", b"null", b"1e999", b"-"]
YAML_TOKENS = [b"&a ", b"*a", b"<<: ", b"\n  ", b"- ", b": ", b"[", b"{", b"'", b'"', b"!!", b"\t", b"${"]
DOCKERFILE_TOKENS = [b"\\\n", b"$", b"${", b"}", b"<<EOF\n", b"\nEOF\n", b"--", b"=", b"[", b'"', b"\n", b"`"]
IGNORE_TOKENS = [b"!", b"*", b"**", b"[", b"]", b"\\", b"\n", b"../", b"/", b"?", b"^", b"-"]
ODD = [b"\xff", b"\x00", b"\r", b"\xef\xbb\xbf", b"\xc3", b"\t", b"\xe2\x80\xa8"]


@st.composite
def mutated(draw, seeds: list[bytes], tokens: list[bytes]) -> bytes:
    """A corpus file with one to six edits: deletions, insertions, byte flips, duplicated spans."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 3))
        if op == 0:
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == 1:
            data[pos:pos] = draw(st.sampled_from(tokens + ODD))
        elif op == 2 and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 64))] * draw(st.integers(1, 3))
    return bytes(data)


# -- HCL bake files from the grammar ---------------------------------------------------------------

NAMES = ["default", "app", "a", "b", "x-y", "a.b", "_", "1", "target", "for", ""]
IDENTS = st.sampled_from(["a", "b", "v", "TAG", "x", "each", "count", "null", "true", "for", "in", "target"])
FUNCTIONS = [
    "upper", "lower", "join", "split", "length", "concat", "merge", "format", "formatlist", "try", "can",
    "lookup", "coalesce", "element", "flatten", "jsonencode", "jsondecode", "keys", "values", "range",
    "replace", "regex", "regex_replace", "substr", "timestamp", "tostring", "tonumber", "tolist", "toset",
    "contains", "distinct", "reverse", "slice", "sort", "zipmap", "chunklist", "setproduct", "indent",
    "trimprefix", "base64decode", "sha256", "uuidv5", "cidrsubnet", "notafunction", "f",
]  # fmt: skip
STRINGS = [
    '"s"', '"${a}"', '"%{ if true }y%{ else }n%{ endif }"', '"%{ for i in [1,2] }${i}%{ endfor }"',
    '"$${x}"', '"%%{x}"', '"\\u00e9\\n\\t"', '"\\q"', '"${"', '""', "<<EOT\nh ${b}\nEOT\n",
    "<<-EOT\n    in ${a}\n    EOT\n", '"${a}${b}"', '"[0-9]+"', '"10.0.0.0/8"', '"${~ a ~}"',
]  # fmt: skip
LITERALS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(STRINGS + ["true", "false", "null", "1e400", "0x1F", "1.", ".5", "-0"]),
)


@st.composite
def expressions(draw, depth: int = 0) -> str:
    if depth > 3:
        return draw(st.one_of(LITERALS, IDENTS))
    sub = expressions(depth + 1)
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return "[" + ", ".join(draw(st.lists(sub, max_size=3))) + "]"
    if kind == 1:
        items = draw(st.lists(st.tuples(st.one_of(IDENTS, sub), sub), max_size=3))
        return "{" + ", ".join(f"{k} = {v}" for k, v in items) + "}"
    if kind == 2:
        op = draw(st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "&&", "||", "<", ">=", "..."]))
        return f"{draw(sub)} {op} {draw(sub)}"
    if kind == 3:
        return f"{draw(sub)} ? {draw(sub)} : {draw(sub)}"
    if kind == 4:
        args = ", ".join(draw(st.lists(sub, max_size=3)))
        return f"{draw(st.sampled_from(FUNCTIONS))}({args}{draw(st.sampled_from(['', '...']))})"
    if kind == 5:
        return f"[for k, v in {draw(sub)} : v if k != 0]"
    if kind == 6:
        return f"{{for k, v in {draw(sub)} : k => v...}}"
    if kind == 7:
        return f"{draw(sub)}[{draw(sub)}]"
    if kind == 8:
        return f"{draw(sub)}.{draw(st.sampled_from(['*', 'a', '0', '*.x', '[*]']))}"
    if kind == 9:
        return f"{draw(st.sampled_from(['!', '-']))}{draw(sub)}"
    if kind == 10:
        return f"target.{draw(st.sampled_from(NAMES))}.{draw(st.sampled_from(['args', 'tags', 'context']))}"
    if kind == 11:
        return f"({draw(sub)})"
    return draw(st.one_of(LITERALS, IDENTS))


TARGET_ATTRS = [
    "tags", "args", "context", "contexts", "dockerfile", "dockerfile-inline", "target", "platforms",
    "inherits", "matrix", "name", "labels", "output", "cache-from", "cache-to", "secret", "ssh",
    "no-cache", "no-cache-filter", "pull", "network", "attest", "annotations", "shm-size", "ulimits",
    "entitlements", "call", "description", "extra-hosts",
]  # fmt: skip
BLOCK_ATTRS = {
    "target": TARGET_ATTRS,
    "group": ["targets", "description", "tags"],
    "variable": ["default", "type", "description"],
    "function": ["params", "variadic_param", "result"],
    "bogus": ["x"],
}
TYPES = ["string", "number", "bool", "list(string)", "map(number)", "object({a=string})", "tuple([bool])"]


@st.composite
def hcl_files(draw) -> str:
    blocks = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(sorted(BLOCK_ATTRS)))
        attrs = draw(st.lists(st.sampled_from(BLOCK_ATTRS[kind]), max_size=5, unique=True))
        lines = []
        for attr in attrs:
            value = f"{draw(st.sampled_from(TYPES))}" if attr == "type" else draw(expressions())
            lines.append(f"  {attr} = {value}")
        if kind == "variable" and draw(st.booleans()):
            lines.append(f"  validation {{\n    condition = {draw(expressions())}\n")
            lines.append(f"    error_message = {draw(expressions())}\n  }}")
        if draw(st.integers(0, 9)) == 0:
            lines.append(f"  {draw(st.sampled_from(TARGET_ATTRS))} = {draw(expressions())}")  # duplicate
        label = "" if draw(st.integers(0, 14)) == 0 else f' "{draw(st.sampled_from(NAMES))}"'
        blocks.append(f"{kind}{label} {{\n" + "\n".join(lines) + "\n}\n")
    if draw(st.booleans()):
        blocks.append(f"{draw(IDENTS)} = {draw(expressions())}\n")
    return "".join(blocks)


# -- JSON and compose documents ------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.sampled_from(["${a}", '${upper("x")}', "$${x}", "%{ if true }a%{ endif }", "${", "${a.b[0]}"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(TARGET_ATTRS), st.text(max_size=6)), children, max_size=4),
    ),
    max_leaves=16,
)


def _section(keys: list[str]):
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=3)


bake_documents = st.fixed_dictionaries(
    {},
    optional={
        "target": _section(["default", "app", "x y", "a.b", ""]),
        "group": _section(["default", "g"]),
        "variable": _section(["a", "TAG", "1"]),
        "function": _section(["f", "upper"]),
    },
)
json_bake_files = bake_documents.map(lambda d: json.dumps(d).encode())

compose_documents = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["web", "api", "a.b", "x y"]), json_values, max_size=3)},
    optional={"secrets": json_values, "x-bake": json_values, "name": json_values, "include": json_values},
)
compose_files = compose_documents.map(lambda d: yaml.safe_dump(d).encode())

# -- Dockerfiles and .dockerignore -----------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "busybox", "scratch", "base", "a", "/app", ".", "a.txt", "dir/", "*.txt", "$A", "${A:-x}", "${A:+y}",
        "${A#p}", "${A%%s}", "${A/x/y}", "${A?err}", "${", "$$", "'q'", '"d"', "\\$A", "--link",
        "--from=base", "--from=0", "--chown=1:1", "--chmod=755", "--chmod=u+x", "--exclude=*.md",
        "--parents", "--mount=type=cache,target=/c", "--mount=type=bind,from=base,source=/,target=/b",
        "--mount=type=secret,id=s", "--network=none", "--security=insecure", "--platform=$BUILDPLATFORM",
        "--platform=linux/arm64", "--keep-git-dir", "--checksum=sha256:00", "AS", "as", "[\"sh\", \"-c\"]",
        '["a"', "8080/tcp", "1-2/udp", "x=y", "k=\"v w\"", "=", "/..", "~", "\t",
    ]
)  # fmt: skip
INSTRUCTIONS = [
    "FROM", "ARG", "ENV", "RUN", "COPY", "ADD", "WORKDIR", "USER", "LABEL", "EXPOSE", "ONBUILD", "CMD",
    "ENTRYPOINT", "HEALTHCHECK", "SHELL", "VOLUME", "STOPSIGNAL", "MAINTAINER", "from", "BOGUS",
]  # fmt: skip
DIRECTIVES = [
    "# syntax=docker/dockerfile:1",
    "# escape=`",
    "# escape=\\",
    "# check=skip=all",
    "# check=error=true",
]


@st.composite
def dockerfiles(draw) -> str:
    lines = draw(st.lists(st.sampled_from(DIRECTIVES), max_size=2))
    if draw(st.integers(0, 4)):
        lines.append(f"FROM {draw(st.sampled_from(['busybox', 'scratch', 'busybox AS base', '$B']))}")
    for _ in range(draw(st.integers(0, 10))):
        words = " ".join(draw(st.lists(WORDS, max_size=4)))
        line = f"{draw(st.sampled_from(INSTRUCTIONS))} {words}"
        tail = draw(st.sampled_from(["", "", " \\\n  more", " <<EOF\nbody $A\nEOF", " # c", "\r"]))
        lines.append(line + tail)
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n\\"]))


dockerignore_lines = st.one_of(
    st.sampled_from(["*.txt", "!a.txt", "dir", "dir/**", "**/b*", "#c", "", " ", "!", "/", "..", "[", "[a-"]),
    st.text(alphabet="ab*?[]!\\/.-^#", max_size=8),
)
dockerignores = st.lists(dockerignore_lines, max_size=6).map(lambda lines: "\n".join(lines).encode())
