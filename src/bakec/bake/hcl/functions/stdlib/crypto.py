"""Hashes, bcrypt, RSA decryption and UUIDs."""

from __future__ import annotations

import binascii
import ctypes
import ctypes.util
import hashlib
import os
import re
import uuid
from decimal import Decimal
from functools import cache

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import go_quote, to_int
from bakec.bake.hcl.functions.stdlib.encoding import go_b64decode
from bakec.bake.hcl.types import NUMBER, STRING


@function("md5", Param("str", STRING))
def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@function("sha1", Param("str", STRING))
def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@function("sha256", Param("str", STRING))
def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@function("sha512", Param("str", STRING))
def sha512(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()


# --- bcrypt -------------------------------------------------------------------------------
# No pip dependency: the system's libcrypt (libxcrypt on every current Linux) implements
# bcrypt. Go's golang.org/x/crypto/bcrypt writes the "$2a$" variant with a random salt.

_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_STD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@cache
def _libcrypt() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypt")
    for candidate in filter(None, (name, "libcrypt.so.1", "libcrypt.so.2")):
        try:
            lib = ctypes.CDLL(candidate)
        except OSError:
            continue
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        return lib
    return None


def _bcrypt_salt() -> str:
    encoded = binascii.b2a_base64(os.urandom(16), newline=False).decode().rstrip("=")
    return encoded.translate(str.maketrans(_STD_ALPHABET, _BCRYPT_ALPHABET))[:22]


@function("bcrypt", Param("str", STRING), variadic=Param("cost", NUMBER))
def bcrypt(text: str, *cost: Decimal) -> str:
    """A bcrypt hash (``$2a$``, random salt) of the string; cost defaults to 10."""
    rounds = 10
    if cost:
        try:
            rounds = to_int(cost[0])
        except ValueError as err:
            raise FunctionError(str(err)) from None
    if len(cost) > 1:
        raise FunctionError("bcrypt() takes no more than two arguments")
    password = text.encode()
    if len(password) > 72:
        raise FunctionError("error occured generating password bcrypt: password length exceeds 72 bytes")
    if rounds > 31:
        raise FunctionError(
            "error occured generating password crypto/bcrypt: "
            f"cost {rounds} is outside allowed inclusive range 4..31"
        )
    # x/crypto/bcrypt silently raises costs below the minimum to the default.
    rounds = 10 if rounds < 4 else rounds
    lib = _libcrypt()
    if lib is None:
        raise FunctionError("bcrypt is not available: the system has no libcrypt")
    setting = f"$2a${rounds:02d}${_bcrypt_salt()}".encode()
    result = lib.crypt(password, setting)
    if not result or not result.startswith(b"$2a$"):
        raise FunctionError("error occured generating password: libcrypt does not support bcrypt")
    return result.decode()


# --- rsadecrypt ---------------------------------------------------------------------------

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)


@function("rsadecrypt", Param("ciphertext", STRING), Param("privatekey", STRING))
def rsadecrypt(ciphertext: str, privatekey: str) -> str:
    """Decrypt base64 PKCS #1 v1.5 ciphertext with a PEM ``RSA PRIVATE KEY``."""
    try:
        data = go_b64decode(ciphertext)
    except (binascii.Error, ValueError):
        message = f"failed to decode input {go_quote(ciphertext)}: cipher text must be base64-encoded"
        raise FunctionError(message) from None
    block = _PEM.search(privatekey)
    if block is None:
        raise FunctionError("failed to parse key: no key found")
    headers, _, _ = block.group(2).partition("\n\n")
    if "Proc-Type: 4,ENCRYPTED" in headers:
        raise FunctionError(
            "failed to parse key: password protected keys are not supported. "
            "Please decrypt the key prior to use"
        )
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        message = "rsadecrypt is not available: the cryptography package is not installed"
        raise FunctionError(message) from None
    if block.group(1) != "RSA PRIVATE KEY":
        raise FunctionError(_pkcs1_hint(block.group(1)))
    try:
        key = serialization.load_pem_private_key(block.group(0).encode(), password=None)
    except (ValueError, TypeError):
        raise FunctionError("x509: failed to parse private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise FunctionError("x509: failed to parse private key")
    try:
        return key.decrypt(data, padding.PKCS1v15()).decode("utf-8", errors="replace")
    except ValueError:
        raise FunctionError("crypto/rsa: decryption error") from None


def _pkcs1_hint(kind: str) -> str:
    if kind == "PRIVATE KEY":
        return "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"
    if kind == "EC PRIVATE KEY":
        return "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"
    return "x509: failed to parse private key"


# --- UUIDs --------------------------------------------------------------------------------

_NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}


@function("uuidv4")
def uuidv4() -> str:
    """A random UUID."""
    return str(uuid.uuid4())


@function("uuidv5", Param("namespace", STRING), Param("name", STRING))
def uuidv5(namespace: str, name: str) -> str:
    """A name-based SHA-1 UUID in one of dns/url/oid/x500 or a given UUID namespace."""
    space = _NAMESPACES.get(namespace)
    if space is None:
        try:
            space = _parse_uuid(namespace)
        except ValueError as err:
            raise FunctionError(f"uuidv5() doesn't support namespace {namespace} ({err})") from None
    return str(uuid.uuid5(space, name))


def _parse_uuid(text: str) -> uuid.UUID:
    """github.com/google/uuid's Parse: 36 chars, urn:uuid: prefix, braces or 32 hex digits."""
    if len(text) == 45 and text[:9].lower() == "urn:uuid:":
        text = text[9:]
    elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    elif len(text) not in (36, 32):
        raise ValueError(f"invalid UUID length: {len(text)}")
    if len(text) == 36 and (text[8] + text[13] + text[18] + text[23]) != "----":
        raise ValueError("invalid UUID format")
    try:
        return uuid.UUID(hex=text.replace("-", "") if len(text) == 36 else text)
    except ValueError:
        raise ValueError("invalid UUID format") from None
