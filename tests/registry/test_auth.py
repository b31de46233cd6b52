"""Auth against the real registry behind the gate: Bearer token flow, Basic, docker credentials.

The gate challenges like Docker Hub does (``WWW-Authenticate: Bearer realm=…,
service=…, scope=…``) and accepts only tokens the loopback token server issued
with the scopes the request needs; the content comes from the real registry.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bakec.registry import (
    AuthenticationError,
    Credentials,
    DockerConfig,
    PushResult,
    RegistryClient,
    RegistryError,
)
from bakec.registry._http import is_loopback

from .conftest import make_image
from .gate import Gate, TokenServer

HOST = "127.0.0.1:5000"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def bearer_gate(gate: Gate, token_server: TokenServer) -> Gate:
    gate.auth = "bearer"
    gate.token_server = token_server
    token_server.users["alice"] = "wonder"
    return gate


def client_with(creds: dict[str, Credentials], **options: object) -> RegistryClient:
    return RegistryClient(docker_config=DockerConfig(auths=creds), backoff=0.01, **options)  # type: ignore[arg-type]


def test_anonymous_bearer_token_flow(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object
) -> None:
    with client_with({}) as client:
        image = client.resolve(f"{bearer_gate.host}/busybox:latest")
        assert image.manifest_digest == busybox_image.digest  # type: ignore[attr-defined]
        client.resolve(f"{bearer_gate.host}/busybox:arm64")
    # one token for the repository, fetched after the first 401, then reused
    assert len(token_server.requests) == 1
    request = token_server.requests[0]
    assert request["query"] == {"service": ["gate"], "scope": ["repository:busybox:pull"]}
    assert request["authorization"] == ""
    first, second = bearer_gate.seen[0], bearer_gate.seen[1]
    assert first.status == 401 and "Authorization" not in first.headers
    assert second.status == 200 and second.headers["Authorization"].startswith("Bearer ")
    assert all(s.status == 200 for s in bearer_gate.seen[1:])


def test_token_with_basic_credentials_for_a_private_repository(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object
) -> None:
    token_server.anonymous_pull = False
    with client_with({bearer_gate.host: Credentials("alice", "wonder")}) as client:
        client.resolve(f"{bearer_gate.host}/busybox:latest")
    request = token_server.requests[0]
    assert request["authorization"] == basic("alice", "wonder")
    assert request["query"]["account"] == ["alice"]  # type: ignore[index]


def test_wrong_password_is_an_auth_error(bearer_gate: Gate, busybox_image: object) -> None:
    with (
        client_with({bearer_gate.host: Credentials("alice", "wrong")}) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.resolve(f"{bearer_gate.host}/busybox:latest")
    err = info.value
    assert err.summary == (
        f"resolving {bearer_gate.host}/busybox:latest: pull access denied for {bearer_gate.host}/busybox"
        " (authenticating as 'alice')"
    )
    assert "answered 401" in err.detail and "wrong" not in str(err)
    assert (err.registry, err.repository, err.status) == (bearer_gate.host, "busybox", 401)


def test_anonymous_pull_of_a_private_repository_is_denied(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object
) -> None:
    token_server.anonymous_pull = False
    with client_with({}) as client, pytest.raises(AuthenticationError) as info:
        client.resolve(f"{bearer_gate.host}/busybox:latest")
    assert info.value.summary == (
        f"resolving {bearer_gate.host}/busybox:latest: pull access denied for {bearer_gate.host}/busybox,"
        " repository does not exist or may require 'docker login'"
    )
    assert info.value.code == "UNAUTHORIZED"


def test_identity_token_uses_the_refresh_token_grant(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object
) -> None:
    token_server.anonymous_pull = False
    token_server.refresh_tokens["refresh-123"] = "alice"
    with client_with({bearer_gate.host: Credentials(identity_token="refresh-123")}) as client:
        client.resolve(f"{bearer_gate.host}/busybox:latest")
    request = token_server.requests[0]
    assert request["method"] == "POST"
    assert request["form"] == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-123"],
        "client_id": ["bakec"],
        "service": ["gate"],
        "scope": ["repository:busybox:pull"],
    }


def test_credentials_from_config_json_and_a_helper_on_path(
    bearer_gate: Gate,
    token_server: TokenServer,
    busybox_image: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_server.anonymous_pull = False
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-bakectest"
    helper.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "assert sys.argv[1] == 'get'\n"
        "server = sys.stdin.read()\n"
        f"open({str(tmp_path / 'asked')!r}, 'a').write(server + '\\n')\n"
        "print(json.dumps({'ServerURL': server, 'Username': 'alice', 'Secret': 'wonder'}))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    conf = tmp_path / "docker"
    conf.mkdir()
    (conf / "config.json").write_text(json.dumps({"credHelpers": {bearer_gate.host: "bakectest"}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(conf))
    with RegistryClient(backoff=0.01) as client:  # the default: docker's config.json
        client.resolve(f"{bearer_gate.host}/busybox:latest")
        client.resolve(f"{HOST}/busybox:latest")  # no challenge there: no credential lookup
    assert (tmp_path / "asked").read_text() == f"{bearer_gate.host}\n"
    assert token_server.requests[0]["authorization"] == basic("alice", "wonder")


def test_push_asks_for_push_and_mount_scopes(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object, unique_repo: str
) -> None:
    image = make_image(os.urandom(5000))
    with client_with({bearer_gate.host: Credentials("alice", "wonder")}, chunk_size=2048) as client:
        repo = f"{bearer_gate.host}/{unique_repo}"
        assert client.push_blob(repo, image.layer_digest, image.layer) is PushResult.UPLOADED
        assert (
            client.push_blob(f"{repo}-b", image.layer_digest, image.layer, mount_from=[repo])
            is PushResult.MOUNTED
        )
        assert client.read_blob(f"{repo}-b", image.layer_digest) == image.layer
    scopes = [r["query"].get("scope") for r in token_server.requests]  # type: ignore[union-attr]
    # one token per repository set: the HEAD before the upload already asks for push
    assert scopes[0] == [f"repository:{unique_repo}:pull,push"]
    assert [f"repository:{unique_repo}-b:pull,push", f"repository:{unique_repo}:pull"] in scopes
    patches = bearer_gate.requests("PATCH")
    assert len(patches) == 3 and all(p.status == 202 and p.headers["Authorization"] for p in patches)


def test_anonymous_push_is_denied(bearer_gate: Gate, busybox_image: object, unique_repo: str) -> None:
    with client_with({}) as client, pytest.raises(AuthenticationError) as info:
        client.push_blob(f"{bearer_gate.host}/{unique_repo}", make_image().layer_digest, b"x")
    assert info.value.summary.endswith(
        f"push access denied for {bearer_gate.host}/{unique_repo}, may require 'docker login'"
    )


def test_basic_auth(gate: Gate, busybox_image: object) -> None:
    gate.auth = "basic"
    gate.basic_users["bob"] = "builder"
    with client_with({gate.host: Credentials("bob", "builder")}) as client:
        client.resolve(f"{gate.host}/busybox:latest")
    assert gate.seen[0].status == 401
    assert gate.seen[1].headers["Authorization"] == basic("bob", "builder")
    with client_with({}) as client, pytest.raises(AuthenticationError, match="pull access denied"):
        client.resolve(f"{gate.host}/busybox:latest")


def test_authorization_is_not_sent_to_a_redirect_on_another_host(
    bearer_gate: Gate, busybox_image: object
) -> None:
    storage = Gate()  # stands in for a blob store on another host
    try:
        with client_with({}) as client:
            image = client.resolve(f"{bearer_gate.host}/busybox:latest")
            bearer_gate.redirect_blobs_to = f"http://{storage.host}"
            data = client.read_blob(f"{bearer_gate.host}/busybox", image.layers[0]["digest"])
        assert len(data) == image.layers[0]["size"]
        assert bearer_gate.seen[-1].headers["Authorization"].startswith("Bearer ")
        assert [s.status for s in storage.seen] == [200]
        assert "Authorization" not in storage.seen[0].headers
    finally:
        storage.close()


def _loopback_alias() -> str:
    """A host name that resolves to 127.0.0.1 but is not 'localhost' (the machine's name, usually)."""
    name = socket.gethostname()
    try:
        if name and name != "localhost" and socket.gethostbyname(name).startswith("127."):
            return name
    except OSError:
        pass
    pytest.skip("the host name does not resolve to a loopback address")


def test_plain_http_only_when_marked_insecure(gate: Gate, busybox_image: object) -> None:
    # A registry whose name is not a loopback name gets https, which the plain-http
    # gate cannot speak; marked insecure, the client falls back to http as docker does.
    host = f"{_loopback_alias()}:{gate.port}"
    with (
        RegistryClient(docker_config=DockerConfig(), max_attempts=2, backoff=0.01) as client,
        pytest.raises(RegistryError) as info,
    ):
        client.resolve(f"{host}/busybox:latest")
    assert info.value.summary == f"resolving {host}/busybox:latest: cannot reach https://{host}"
    assert gate.seen == []
    with RegistryClient(docker_config=DockerConfig(), insecure=[host], backoff=0.01) as client:
        image = client.resolve(f"{host}/busybox:latest")
    assert image.manifest_digest == busybox_image.digest  # type: ignore[attr-defined]
    assert gate.seen and all(s.status == 200 for s in gate.seen)


def test_a_revoked_token_is_fetched_again(
    bearer_gate: Gate, token_server: TokenServer, busybox_image: object
) -> None:
    with client_with({}) as client:
        client.resolve(f"{bearer_gate.host}/busybox:latest")
        token_server.tokens.clear()  # the registry no longer accepts the cached token
        client.resolve(f"{bearer_gate.host}/busybox:arm64")
    assert len(token_server.requests) == 2


def test_parallel_pulls_share_one_client(bearer_gate: Gate, busybox_image: object) -> None:
    with client_with({}) as client:
        image = client.resolve(f"{HOST}/busybox:latest")
        digest = image.layers[0]["digest"]
        refs = [f"{bearer_gate.host}/busybox:latest", f"{bearer_gate.host}/busybox-multi:latest"] * 4
        with ThreadPoolExecutor(8) as pool:
            resolved = list(pool.map(lambda r: client.resolve(r, "linux/amd64").manifest_digest, refs))
            blobs = list(
                pool.map(lambda _: len(client.read_blob(f"{bearer_gate.host}/busybox", digest)), range(8))
            )
    assert set(resolved) == {image.manifest_digest}
    assert blobs == [image.layers[0]["size"]] * 8


def _self_signed(tmp_path: Path, name: str) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_untrusted_tls_needs_insecure(registry: object, busybox_image: object, tmp_path: Path) -> None:
    name = _loopback_alias()
    gate = Gate(tls=_self_signed(tmp_path, name))
    host = f"{name}:{gate.port}"
    try:
        with client_with({}) as client, pytest.raises(RegistryError) as info:
            client.resolve(f"{host}/busybox:latest")
        assert (
            info.value.summary
            == f"resolving {host}/busybox:latest: the TLS certificate of {host} is not trusted"
        )
        assert gate.seen == []
        with client_with({}, insecure=[host]) as client:
            image = client.resolve(f"{host}/busybox:latest")
        assert image.manifest_digest == busybox_image.digest  # type: ignore[attr-defined]
        assert gate.seen and all(s.status == 200 for s in gate.seen)
    finally:
        gate.close()


@pytest.mark.parametrize(
    ("netloc", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("LOCALHOST:1", True),
        ("10.0.0.1:5000", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("[2001:db8::1]:5000", False),
    ],
)
def test_loopback_hosts(netloc: str, loopback: bool) -> None:
    assert is_loopback(netloc) is loopback


def test_localhost_by_name_is_plain_http(client: RegistryClient, gate: Gate, busybox_image: object) -> None:
    image = client.resolve(f"localhost:{gate.port}/busybox:latest")
    assert image.manifest_digest == busybox_image.digest  # type: ignore[attr-defined]
    assert gate.seen[0].headers["Host"] == f"localhost:{gate.port}"
