"""docker ``config.json`` parsing and credential helpers, looked up as the docker CLI does."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import pytest

from bakec.registry import Credentials, DockerConfig, RegistryError
from bakec.registry.credentials import INDEX_SERVER


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, data: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(data))
    return path


HELPER = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
name = os.path.basename(__file__)
server = sys.stdin.read()
with open(os.path.join(here, "calls.log"), "a") as log:
    log.write(f"{{name}} {{sys.argv[1]}} {{server}}\\n")
answers = json.load(open(os.path.join(here, "answers.json")))
if name in answers.get("fail", []):
    sys.stderr.write("the keychain is locked\\n")
    sys.exit(3)
creds = answers.get(name, {{}}).get(server)
if creds is None:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps({{"ServerURL": server, "Username": creds[0], "Secret": creds[1]}}))
"""


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH directory with docker-credential-{one,two} answering from answers.json."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in ("one", "two"):
        script = directory / f"docker-credential-{name}"
        script.write_text(HELPER.format(python=sys.executable))
        script.chmod(0o755)
    (directory / "answers.json").write_text("{}")
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def set_answers(helpers: Path, answers: dict[str, object]) -> None:
    (helpers / "answers.json").write_text(json.dumps(answers))


def calls(helpers: Path) -> list[str]:
    log = helpers / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_auths_with_base64_auth_and_fields(tmp_path: Path) -> None:
    config = DockerConfig.load(
        write_config(
            tmp_path,
            {
                "auths": {
                    "127.0.0.1:5000": {"auth": b64("alice:s3cr:et")},
                    "ghcr.io": {"username": "bob", "password": "pw"},
                    "quay.io": {"identitytoken": "refresh-me"},
                    "r.example": {"registrytoken": "bearer-me"},
                    INDEX_SERVER: {"auth": b64("hubuser:hubpass")},
                }
            },
        )
    )
    assert config.credentials("127.0.0.1:5000") == Credentials("alice", "s3cr:et")
    assert config.credentials("ghcr.io") == Credentials("bob", "pw")
    assert config.credentials("quay.io") == Credentials(identity_token="refresh-me")
    assert config.credentials("r.example") == Credentials(registry_token="bearer-me")
    assert config.credentials("docker.io") == Credentials("hubuser", "hubpass")
    assert config.credentials("elsewhere.example") == Credentials()
    assert not config.credentials("elsewhere.example")


def test_auth_keys_written_as_urls_match_their_host(tmp_path: Path) -> None:
    config = DockerConfig.load(
        write_config(
            tmp_path,
            {
                "auths": {
                    "https://registry.example:5000/v1/": {"auth": b64("u:p")},
                    "http://plain.example": {"auth": b64("v:q")},
                }
            },
        )
    )
    assert config.credentials("registry.example:5000") == Credentials("u", "p")
    assert config.credentials("plain.example") == Credentials("v", "q")
    assert config.credentials("registry.example") == Credentials()


def test_secrets_do_not_show_in_repr() -> None:
    assert "pw" not in repr(Credentials("bob", "pw"))


def test_docker_config_env_and_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path / "conf", {"auths": {"h.example": {"auth": b64("a:b")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "conf"))
    assert DockerConfig.load().credentials("h.example") == Credentials("a", "b")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nowhere"))
    assert DockerConfig.load().credentials("h.example") == Credentials()
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_config(tmp_path / "home" / ".docker", {"auths": {"h.example": {"auth": b64("c:d")}}})
    assert DockerConfig.load().credentials("h.example") == Credentials("c", "d")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid docker config"),
        ("[]", "invalid docker config"),
        (json.dumps({"auths": {"h": {"auth": "%%%"}}}), "invalid auth configuration file"),
        (json.dumps({"auths": {"h": {"auth": b64("nocolon")}}}), "invalid auth configuration file"),
        (json.dumps({"auths": {"h": {"auth": b64(":nouser")}}}), "invalid auth configuration file"),
        (json.dumps({"auths": []}), "invalid docker config"),
    ],
)
def test_broken_config_files_fail_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(RegistryError) as info:
        DockerConfig.load(path)
    assert info.value.summary.startswith(message)
    assert str(path) in info.value.summary


def test_cred_helpers_win_over_creds_store_and_auths(tmp_path: Path, helpers: Path) -> None:
    set_answers(
        helpers,
        {
            "docker-credential-one": {"a.example": ["from-one", "pw1"]},
            "docker-credential-two": {"b.example": ["from-two", "pw2"], INDEX_SERVER: ["hub", "pw3"]},
        },
    )
    config = DockerConfig.load(
        write_config(
            tmp_path,
            {
                "auths": {"a.example": {"auth": b64("file:pw")}, "c.example": {"auth": b64("file:pw")}},
                "credHelpers": {"a.example": "one"},
                "credsStore": "two",
            },
        )
    )
    assert config.credentials("a.example") == Credentials("from-one", "pw1")
    assert config.credentials("b.example") == Credentials("from-two", "pw2")
    assert config.credentials("docker.io") == Credentials("hub", "pw3")
    # the store answers for every host it knows; a host it does not know is anonymous
    assert config.credentials("c.example") == Credentials()
    assert calls(helpers) == [
        "docker-credential-one get a.example",
        "docker-credential-two get b.example",
        f"docker-credential-two get {INDEX_SERVER}",
        "docker-credential-two get c.example",
    ]
    config.credentials("a.example")
    assert len(calls(helpers)) == 4  # answers are cached


def test_helper_token_username_means_identity_token(tmp_path: Path, helpers: Path) -> None:
    set_answers(helpers, {"docker-credential-one": {"t.example": ["<token>", "refresh-xyz"]}})
    config = DockerConfig.from_dict({"credHelpers": {"t.example": "one"}})
    assert config.credentials("t.example") == Credentials(identity_token="refresh-xyz")


def test_failing_and_missing_helpers_are_errors(helpers: Path) -> None:
    set_answers(helpers, {"fail": ["docker-credential-one"]})
    config = DockerConfig.from_dict({"credHelpers": {"x.example": "one", "y.example": "absent"}})
    with pytest.raises(RegistryError) as info:
        config.credentials("x.example")
    assert info.value.summary == "cannot get credentials for x.example from docker-credential-one"
    assert "exit status 3: the keychain is locked" in info.value.detail
    with pytest.raises(RegistryError, match="credential helper docker-credential-absent is not installed"):
        config.credentials("y.example")
