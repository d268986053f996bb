"""Key material: new private keys per algorithm, their public JWK, and sealing private keys at
rest with AES-256-GCM (cryptography) under the key-encryption key."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from server.core.config import Config

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_NONCE = 12  # bytes: AES-GCM's standard nonce, random per sealing
KEK_FILE = "jwt-key-encryption-key"  # beside the embedded database's directory


class KeyDecryptionError(Exception):
    """A sealed private key does not open under this key-encryption key (wrong or changed)."""


def generate(alg: str) -> PrivateKey:
    """A fresh private key for `alg` (EdDSA: Ed25519, ES256: P-256, RS256: 3072-bit RSA)."""
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"no private keys for {alg}")


def public_jwk(key: PrivateKey, alg: str) -> dict[str, Any]:
    """The RFC 7517 public JWK of `key` with its RFC 7638 thumbprint as `kid`."""
    public = key.public_key()
    converter = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm}[alg]
    jwk: dict[str, Any] = converter.to_jwk(public, as_dict=True)  # type: ignore[attr-defined]
    jwk.pop("kid", None)
    return {**jwk, "kid": thumbprint(jwk), "alg": alg, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexical order, base64url."""
    required = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"),
                "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"),
                           sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def private_der(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
                      | rsa.RSAPrivateKey):
        raise KeyDecryptionError()  # not a key type we ever store
    return key


def seal(kek: bytes, plaintext: bytes, context: str) -> bytes:
    """nonce + AES-GCM ciphertext; `context` (kid and alg) is bound as associated data, so a
    sealed key moved onto another record does not open."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, plaintext, context.encode("utf-8"))


def unseal(kek: bytes, sealed: bytes, context: str) -> bytes:
    try:
        return AESGCM(kek).decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode("utf-8"))
    except (InvalidTag, ValueError):
        raise KeyDecryptionError() from None


def decode_kek(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resolve_kek(config: Config) -> bytes:
    """jwt.key_encryption_key, or (outside production, where config refuses to start without
    it) one generated once under the data directory and read back by every later start and
    worker. The file is created whole and atomically (link of a written temporary), so
    workers racing at a first start all end up with the same key."""
    if config.jwt.key_encryption_key:
        return decode_kek(config.jwt.key_encryption_key)
    path = Path(config.mongodb.data_dir).resolve().parent / KEK_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{KEK_FILE}.{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.urlsafe_b64encode(os.urandom(32)).decode("ascii") + "\n")
        with contextlib.suppress(FileExistsError):  # another worker's key won the race
            os.link(temp, path)
        temp.unlink()
    return decode_kek(path.read_text(encoding="ascii").strip())
