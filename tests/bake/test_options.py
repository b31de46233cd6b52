"""Entry parsing (CSV and object forms) and build-option validators [c281-c298]."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from bakec.bake import options
from bakec.bake.options import parse_entries, parse_entry, split_csv
from bakec.errors import SpecError

ED25519_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBlqDIdXCbTT17cQbnqsvkqfZZ+QzrPrN0HEoo4QLd+1AAAAKDBw6ogwcOq
IAAAAAtzc2gtZWQyNTUxOQAAACBlqDIdXCbTT17cQbnqsvkqfZZ+QzrPrN0HEoo4QLd+1A
AAAECqlRbMbXkLIP6XlZHpvpasV9tjWAvONamOPX23WLUUzGWoMh1cJtNPXtxBueqy+Sp9
ln5DOs+s3QcSijhAt37UAAAAG2Jha2VjLWNvbmZvcm1hbmNlLXRlc3Qtb25seQEC
-----END OPENSSH PRIVATE KEY-----
"""


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("a,b", ["a", "b"]),
        ('type=local,"dest=a,b"', ["type=local", "dest=a,b"]),
        ('"say ""hi"""', ['say "hi"']),
        ("a,,b", ["a", "", "b"]),
        (" a , b", [" a ", " b"]),
    ],
)
def test_split_csv_follows_go_csv(text, fields):
    assert split_csv(text) == fields


@pytest.mark.parametrize("text", ['a"b', '"open', '"a"b'])
def test_split_csv_rejects_bad_quotes(text):
    with pytest.raises(SpecError, match="parse error on line 1"):
        split_csv(text)


def test_cache_from_forms_c281():
    items = [
        "type=registry,ref=acme/cache:main",
        {"type": "gha", "scope": "build"},
        "user/app:cache",
        "type=local,src=.cache",
        "",
    ]
    assert parse_entries("cache-from", items) == [
        {"type": "registry", "ref": "acme/cache:main"},
        {"type": "gha", "scope": "build"},
        {"type": "registry", "ref": "user/app:cache"},
        {"type": "local", "src": ".cache"},
    ]


def test_cache_ref_only_string_with_commas_gives_one_entry_per_ref():
    assert parse_entries("cache-from", ["a/b:1,c/d:2"]) == [
        {"type": "registry", "ref": "a/b:1"},
        {"type": "registry", "ref": "c/d:2"},
    ]


def test_cache_keys_are_lowercased_and_type_required():
    assert parse_entry("cache-to", "type=local,DEST=out,Mode=max") == {
        "type": "local",
        "dest": "out",
        "mode": "max",
    }
    with pytest.raises(SpecError, match='type required for "mode=max,ref=x"'):
        parse_entry("cache-to", "mode=max,ref=x")


def test_cache_object_numbers_and_bools_become_strings():
    entry = parse_entry("cache-to", {"type": "registry", "ref": "r", "image-manifest": True, "n": Decimal(3)})
    assert entry == {"type": "registry", "ref": "r", "image-manifest": "true", "n": "3"}


@pytest.mark.parametrize(
    ("item", "entry"),
    [
        ("type=local,dest=out", {"type": "local", "dest": "out"}),
        ({"type": "tar", "dest": "out.tar"}, {"type": "tar", "dest": "out.tar"}),
        ("./bin", {"type": "local", "dest": "./bin"}),
        ("-", {"type": "tar", "dest": "-"}),
        (
            {"type": "image", "name": "acme/c:1", "push": True},
            {"type": "image", "name": "acme/c:1", "push": "true"},
        ),
        ("type=registry", {"type": "registry"}),
    ],
)
def test_output_forms_c282(item, entry):
    assert parse_entry("output", item) == entry


def test_output_bad_field_c291():
    with pytest.raises(SpecError) as err:
        parse_entry("output", "type=local,dest")
    assert err.value.summary == "invalid value dest"


def test_attest_forms_c284_c285():
    assert parse_entries(
        "attest",
        [
            "type=sbom,generator=docker/buildkit-syft-scanner",
            {"type": "provenance", "mode": "max"},
            "type=sbom,disabled=true",
        ],
    ) == [
        {"type": "sbom", "generator": "docker/buildkit-syft-scanner"},
        {"type": "provenance", "mode": "max"},
        {"type": "sbom", "disabled": True},
    ]
    assert parse_entry("attest", "type=sbom,disabled=false") == {"type": "sbom"}
    with pytest.raises(SpecError, match="attestation type not specified"):
        parse_entry("attest", "mode=max")


@pytest.mark.parametrize(
    ("item", "entry"),
    [
        ("id=aws,src=creds/aws", {"id": "aws", "src": "creds/aws"}),
        ("id=token,env=API_TOKEN", {"id": "token", "env": "API_TOKEN"}),
        ({"id": "npmrc", "src": "npmrc.txt"}, {"id": "npmrc", "src": "npmrc.txt"}),
        ("type=env,id=GITHUB_TOKEN,src=GH_TOKEN_VAR", {"id": "GITHUB_TOKEN", "env": "GH_TOKEN_VAR"}),
        ("id=x,source=f", {"id": "x", "src": "f"}),
    ],
)
def test_secret_forms_c283(item, entry):
    assert parse_entry("secret", item) == entry


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("id=x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("id=x,src", "invalid field 'src' must be a key=value pair"),
        ("type=magic,id=x", 'unsupported secret type "magic"'),
    ],
)
def test_secret_errors_c296(item, message):
    with pytest.raises(SpecError) as err:
        parse_entry("secret", item)
    assert err.value.summary == message


@pytest.mark.parametrize(
    ("item", "entry"),
    [
        ("deploy=keys/id_ed25519", {"id": "deploy", "paths": ["keys/id_ed25519"]}),
        ({"id": "git", "paths": ["keys/a", "keys/b"]}, {"id": "git", "paths": ["keys/a", "keys/b"]}),
        ("default", {"id": "default"}),
        ("x=a,b", {"id": "x", "paths": ["a", "b"]}),
    ],
)
def test_ssh_forms_c283(item, entry):
    assert parse_entry("ssh", item) == entry


def test_policy_forms_c292():
    assert parse_entries("policy", [{"filename": "extra.rego"}, {"strict": True, "log-level": "debug"}]) == [
        {
            "Files": [{"Filename": "extra.rego", "Data": None}],
            "Reset": False,
            "Disabled": False,
            "Strict": None,
            "LogLevel": None,
        },
        {"Files": None, "Reset": False, "Disabled": False, "Strict": True, "LogLevel": "debug"},
    ]
    assert parse_entry("policy", "log-level=warn")["LogLevel"] == "warning"
    with pytest.raises(SpecError, match="invalid value bogus=1"):
        parse_entry("policy", "bogus=1")


def test_resources_are_ordered_and_typed_c286():
    assert options.normalize_resources({"cpu-shares": Decimal(512), "memory": "2g"}) == {
        "memory": "2g",
        "cpu-shares": 512,
    }
    assert options.set_resource(None, "cpu-quota", "50000") == {"cpu-quota": 50000}
    with pytest.raises(SpecError, match="invalid value x for int64 key resources.cpu-quota"):
        options.set_resource(None, "cpu-quota", "x")
    with pytest.raises(SpecError, match="unknown resources key gpu"):
        options.set_resource(None, "gpu", "1")


def test_dedupe_equal_swaps_like_buildx():
    a, b, c = {"type": "a"}, {"type": "b"}, {"type": "c"}
    assert options.dedupe_equal([a, b, a, c]) == [a, b, c]
    assert options.dedupe_equal([a, b, b, c, a]) == [a, b, c]
    assert options.dedupe_equal([a, a, b, c]) == [a, c, b]


def test_dedupe_keyed_replaces_in_place():
    assert options.dedupe_keyed([{"id": "a", "src": "1"}, {"id": "b"}, {"id": "a", "env": "E"}], "id") == [
        {"id": "a", "env": "E"},
        {"id": "b"},
    ]


# -- validators ------------------------------------------------------------


@pytest.mark.parametrize("value", ["128m", "1g", "64MiB", "1024", "1.5g", "2 GB"])
def test_shm_size_accepts_docker_units(value):
    options.parse_mem_bytes(value)


def test_shm_size_error_c288():
    with pytest.raises(SpecError) as err:
        options.parse_mem_bytes("lots")
    assert err.value.summary == "invalid value lots for membytes key shm-size"


@pytest.mark.parametrize(
    "value",
    [
        "linux/amd64",
        "linux/arm/v7",
        "linux",
        "arm64",
        "linux/amd64,linux/arm64",
        "local",
        "windows(10.0.17763)/amd64",
    ],
)
def test_platforms_accepted(value):
    options.validate_platforms([value])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "linux/amd64/v99/extra",
            '"linux/amd64/v99/extra": cannot parse platform specifier: invalid argument',
        ),
        ("banana", '"banana": unknown operating system or architecture: invalid argument'),
        ("linux/am d64", '"am d64" is an invalid component of "linux/am d64"'),
        ("lin.ux/amd64", '"lin.ux" is an invalid OS component of "lin.ux/amd64"'),
        ("linux/*", '"linux/*": wildcards not yet supported: invalid argument'),
    ],
)
def test_platform_errors_c289(value, message):
    with pytest.raises(SpecError) as err:
        options.validate_platforms([value])
    assert err.value.summary.startswith(message)


@pytest.mark.parametrize("value", ["nofile=1024:2048", "nproc=256", "core=-1", "nofile=10:-1"])
def test_ulimits_accepted(value):
    options.validate_ulimit(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nofile", "invalid ulimit argument: nofile"),
        ("bogus=1", "invalid ulimit type: bogus"),
        ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"),
        ("nofile=20:10", "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
        ("nofile=x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ],
)
def test_ulimit_errors_c290(value, message):
    with pytest.raises(SpecError) as err:
        options.validate_ulimit(value)
    assert err.value.summary == message


def test_annotations():
    options.validate_annotations(["a=1", "index,manifest:org.x=y", "manifest[linux/amd64]:k=v", ""])
    with pytest.raises(SpecError, match='invalid annotation "nokey", expected key=value'):
        options.validate_annotations(["nokey"])
    with pytest.raises(SpecError, match='unknown annotation type "layer"'):
        options.validate_annotations(["layer:k=v"])


def test_secret_src_must_exist_c297(tmp_path):
    (tmp_path / "npmrc").write_text("x")
    options.check_secrets([{"id": "npm", "src": "npmrc"}, {"id": "gh", "env": "GH"}], {}, str(tmp_path))
    with pytest.raises(SpecError) as err:
        options.check_secrets([{"id": "aws", "src": "does-not-exist"}], {}, str(tmp_path))
    assert (
        err.value.summary == "failed to stat does-not-exist: stat does-not-exist: no such file or directory"
    )


def test_secret_without_source_uses_env_then_file(tmp_path):
    options.check_secrets([{"id": "TOKEN"}], {"TOKEN": "x"}, str(tmp_path))
    with pytest.raises(SpecError, match="failed to stat TOKEN"):
        options.check_secrets([{"id": "TOKEN"}], {}, str(tmp_path))


def test_ssh_default_needs_agent_c298(tmp_path):
    with pytest.raises(SpecError) as err:
        options.check_ssh([{"id": "default"}], {}, str(tmp_path))
    assert err.value.summary == (
        "failed to convert agent config {default [] false}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"
    )


def test_ssh_agent_socket_is_accepted(tmp_path):
    path = tmp_path / "agent.sock"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        options.check_ssh([{"id": "default"}], {"SSH_AUTH_SOCK": str(path)}, str(tmp_path))
    finally:
        sock.close()


def test_ssh_key_files_must_be_private_keys_c283(tmp_path):
    (tmp_path / "key").write_text(ED25519_KEY)
    (tmp_path / "junk").write_text("not a key\n")
    options.check_ssh([{"id": "deploy", "paths": ["key"]}], {}, str(tmp_path))
    with pytest.raises(SpecError) as err:
        options.check_ssh([{"id": "x", "paths": ["junk"]}], {}, str(tmp_path))
    assert (
        err.value.summary
        == "failed to convert agent config {x [junk] false}: failed to parse junk: ssh: no key found"
    )
    with pytest.raises(SpecError, match=r"\{y \[missing\] false\}: stat missing: no such file or directory"):
        options.check_ssh([{"id": "y", "paths": ["missing"]}], {}, str(tmp_path))


def test_output_destinations(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    ok = [
        {"type": "local", "dest": "out"},
        {"type": "tar", "dest": "out.tar"},
        {"type": "docker"},
        {"type": "image"},
    ]
    options.validate_outputs(ok, str(tmp_path))
    cases = [
        ([{"type": "local"}], "dest is required for local exporter"),
        ([{"type": "local", "dest": "-"}], "dest cannot be stdout for local exporter"),
        ([{"type": "local", "dest": "file"}], "destination directory file is a file"),
        ([{"type": "tar", "dest": "dir"}], "destination file dir is a directory"),
        ([{"type": "oci", "tar": "false"}], "dest is required for oci exporter"),
        ([{"type": "tar"}, {"type": "oci"}], "multiple outputs configured to write to stdout"),
    ]
    for outputs, message in cases:
        with pytest.raises(SpecError) as err:
            options.validate_outputs(outputs, str(tmp_path))
        assert err.value.summary == message
