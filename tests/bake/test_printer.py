"""``--print`` JSON and ``--list`` output, compared byte for byte with the corpus."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bakec.bake.finalize import finalize
from bakec.bake.model import Group, Target, Variable
from bakec.bake.options import parse_entries
from bakec.bake.printer import (
    encode,
    friendly_type,
    go_string,
    list_targets,
    list_variables,
    print_json,
    tabwrite,
)


@pytest.fixture
def corpus(conformance_dir):
    root = conformance_dir("bake")

    def case(prefix: str) -> Path:
        (found,) = root.glob(f"{prefix}-*")
        return found

    return case


def default_group(*names: str) -> dict[str, Group]:
    return {"default": Group(name="default", targets=list(names))}


def render(case_dir: Path, *targets: Target, groups: dict[str, Group] | None = None) -> str:
    done = {t.name: finalize(t, {}, str(case_dir)) for t in targets}
    return print_json(groups if groups is not None else default_group(*sorted(done)), done)


def expected(case_dir: Path, name: str = "expected.json") -> str:
    return (case_dir / name).read_text()


# -- --print ---------------------------------------------------------------


def test_field_order_and_entry_objects_c203(corpus):
    case = corpus("203")
    t = Target(
        name="default",
        tags=["child:1"],
        platforms=["linux/arm64"],
        cache_from=parse_entries(
            "cache-from", ["type=registry,ref=acme/cache:base", "type=registry,ref=acme/cache:child"]
        ),
        cache_to=parse_entries("cache-to", ["type=registry,ref=acme/cache:child,mode=max"]),
        output=parse_entries("output", ["type=registry"]),
        annotations=[
            "index:org.opencontainers.image.vendor=acme",
            "manifest:org.opencontainers.image.title=child",
        ],
        no_cache_filter=["deps", "test"],
        ulimits=["nofile=1024:2048", "nproc=512"],
        entitlements=["network.host", "security.insecure"],
        attest=parse_entries("attest", ["type=sbom", "type=provenance,mode=max"]),
        secret=parse_entries("secret", ["id=npm,src=npmrc", "id=gh,env=GH_TOKEN"]),
        ssh=parse_entries("ssh", ["base=keys/base", "deploy=keys/deploy"]),
    )
    assert render(case, t) == expected(case)


def test_cache_forms_c281(corpus):
    case = corpus("281")
    t = Target(
        name="default",
        cache_from=parse_entries(
            "cache-from",
            [
                "type=registry,ref=acme/cache:main",
                {"type": "gha", "scope": "build"},
                "user/app:cache",
                "type=local,src=.cache",
            ],
        ),
        cache_to=parse_entries(
            "cache-to",
            [{"type": "registry", "ref": "acme/cache:main", "mode": "max", "image-manifest": "true"}],
        ),
    )
    assert render(case, t) == expected(case)


def test_output_forms_c282(corpus):
    case = corpus("282")
    a = Target(
        name="a", output=parse_entries("output", ["type=local,dest=out", {"type": "tar", "dest": "out.tar"}])
    )
    b = Target(name="b", output=parse_entries("output", ["./bin"]))
    c = Target(
        name="c", output=parse_entries("output", [{"type": "image", "name": "acme/c:1", "push": True}])
    )
    assert render(case, a, b, c) == expected(case)


def test_secret_and_ssh_c283(corpus):
    case = corpus("283")
    t = Target(
        name="default",
        secret=parse_entries(
            "secret",
            [
                "id=aws,src=creds/aws",
                "id=token,env=API_TOKEN",
                {"id": "npmrc", "src": "npmrc.txt"},
                "type=env,id=GITHUB_TOKEN,src=GH_TOKEN_VAR",
            ],
        ),
        ssh=parse_entries("ssh", ["deploy=keys/id_ed25519", {"id": "git", "paths": ["keys/a", "keys/b"]}]),
    )
    assert render(case, t) == expected(case)


def test_attest_disabled_is_a_bool_c285(corpus):
    case = corpus("285")
    t = Target(
        name="default",
        attest=parse_entries("attest", ["type=sbom,disabled=true", "type=provenance,mode=min"]),
    )
    assert render(case, t) == expected(case)


def test_misc_scalars_false_pull_and_resource_numbers_c286(corpus):
    case = corpus("286")
    t = Target(
        name="default",
        target="runtime",
        shm_size="128m",
        ulimits=["nofile=1024:4096", "nproc=256"],
        no_cache=True,
        pull=False,
        no_cache_filter=["deps", "compile"],
        call="check",
        extra_hosts={"registry.internal": "10.0.0.5", "mirror": "10.0.0.6"},
        resources={"memory": "2g", "cpu-shares": Decimal(512)},
    )
    assert render(case, t) == expected(case)


def test_network_host_c287(corpus):
    case = corpus("287")
    a = Target(name="default", network="host")
    b = Target(name="none", network="none", entitlements=["security.insecure", "security.insecure"])
    assert render(case, a, b) == expected(case)


def test_policy_uses_go_field_names_c292(corpus):
    case = corpus("292")
    t = Target(
        name="default",
        policy=parse_entries("policy", [{"filename": "extra.rego"}, {"strict": True, "log-level": "debug"}]),
    )
    assert render(case, t) == expected(case)


def test_template_re_escaping_c008(corpus):
    case = corpus("008")
    t = Target(
        name="default",
        dockerfile_inline="FROM alpine\nARG NAME\nRUN echo ${NAME} %{x}\n",
        labels={"tmpl": "${HOME}"},
        args={"RAW": "a${b}c"},
    )
    assert render(case, t) == expected(case)


def test_empty_network_is_printed_c380(corpus):
    case = corpus("380")
    assert render(case, Target(name="default", network="")) == expected(case)


def test_resources_from_set_c375(corpus):
    case = corpus("375")
    assert render(case, Target(name="default", resources={"cpu-quota": 50000, "memory": "1g"})) == expected(
        case
    )


def test_groups_and_descriptions_c210_c382(corpus):
    case = corpus("210")
    a = Target(name="a", description="Base description")
    b = Target(name="b", description="Own description")
    assert render(case, a, b) == expected(case)
    case = corpus("382")
    groups = {"default": Group(name="default", targets=["m"]), "m": Group(name="m", targets=["m-1", "m-2"])}
    m1 = Target(name="m-1", args={"V": "x"})
    m2 = Target(name="m-2", args={"V": "x"}, tags=["two"])
    assert render(case, m1, m2, groups=groups) == expected(case)


def test_no_groups_and_no_targets():
    assert print_json({}, {}) == '{\n  "target": {}\n}\n'


def test_go_string_escaping():
    assert go_string('<a href="x">&\u2028\x01\t') == '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u2028\\u0001\\t"'
    assert go_string("é ✓") == '"é ✓"'


def test_encode_matches_marshal_indent():
    assert encode({"a": [], "b": {}, "c": [1, {"d": None}], "e": Decimal("0.5")}) == (
        '{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    {\n      "d": null\n    }\n  ],\n  "e": 0.5\n}'
    )


# -- --list ----------------------------------------------------------------


def test_list_variables_table_c053(corpus):
    variables = [
        Variable(name="TAG", value="latest", description="Image tag"),
        Variable(name="PLATFORMS", type="list(string)", value=["linux/amd64"]),
        Variable(name="UNSET", type="string", value=None),
        Variable(name="N", value=Decimal(3)),
    ]
    assert list_variables(variables) == expected(corpus("053"), "expected.txt")


def test_list_variables_json_c054(corpus):
    variables = [
        Variable(name="TAG", value="v2", description="Image tag"),
        Variable(name="PLATFORMS", type="list(string)", value=["linux/amd64"]),
        Variable(name="OBJ", value={"a": Decimal(1)}),
    ]
    assert list_variables(variables, "json") == expected(corpus("054"))


def test_list_targets_table_c055(corpus):
    groups = {
        "default": Group(name="default", targets=["app", "db"]),
        "ci": Group(name="ci", targets=["db", "app"], description="CI set"),
    }
    targets = {
        "app": Target(name="app", description="Application"),
        "db": Target(name="db"),
        "_base": Target(name="_base"),
    }
    assert list_targets(groups, targets) == expected(corpus("055"), "expected.txt")


def test_list_targets_json_c056(corpus):
    groups = {"default": Group(name="default", targets=["app"])}
    targets = {"app": Target(name="app", description="Application"), "lint": Target(name="lint")}
    assert list_targets(groups, targets, "json") == expected(corpus("056"))


@pytest.mark.parametrize(
    ("expr", "name"),
    [("string", "string"), ("list(string)", "list of string"), ("map(list(number))", "map of list of number"),
     ("set(bool)", "set of bool"), ("object({a=string})", "object"), ("tuple([string])", "tuple"), ("any", "dynamic"),
     (None, ""), ("list of string", "list of string")],
)  # fmt: skip
def test_friendly_type(expr, name):
    assert friendly_type(expr) == name


def test_tabwriter_pads_with_tabs_to_multiples_of_eight():
    assert tabwrite([["A", "B"], ["longer-than-8", "x"]]) == "A\t\tB\nlonger-than-8\tx\n"
    assert tabwrite([["a", "", "c", ""]]) == "a\t\tc\t\n"


def test_empty_json_lists_are_go_nil_slices():
    assert list_targets({}, {"_hidden": Target(name="_hidden")}, "json") == "null\n"
    assert list_variables([], "json") == "null\n"
    assert list_targets({}, {}) == "TARGET\tDESCRIPTION\n"


@pytest.mark.parametrize(
    "text",
    ["plain", 'q"uote\\slash', "<&>", "\x00\x07\b\f\n\r\t\x1f\x7f", "\u2028\u2029", "é ✓ 𝄞", "$${x} %%{y}"],
)
def test_fast_and_go_encoders_agree(text):
    from bakec.bake import printer

    doc = {"k" + text: [text, {"x": text}], "n": None, "b": [True, False]}
    assert printer.encode(doc) == printer._encode(doc, "  ", "")
