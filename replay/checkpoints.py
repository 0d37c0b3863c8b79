"""Signed checkpoints: the chain head at a position, signed with an Ed25519 key.

A checkpoint is a JSON object; `signature` is Ed25519 over the canonical JSON of every
other field (keys sorted, no spaces, ASCII), base64-encoded. `key_fingerprint` names the
public key that verifies it: "sha256:" and the hex SHA-256 of its 32 raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.exceptions import InvalidInput

FORMAT = "orderledger-chain-checkpoint/1"
FIELDS = ("format", "position", "hash", "recorded_at", "signed_at", "key_fingerprint")


class CheckpointError(InvalidInput):
    """A checkpoint or key that cannot be used: malformed, foreign, or not this key's."""

    rule = "invalid-checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: bytes
    recorded_at: str  # the recorded time of the event at `position`
    signed_at: str
    key_fingerprint: str
    signature: bytes

    def fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "position": self.position,
            "hash": self.hash.hex(),
            "recorded_at": self.recorded_at,
            "signed_at": self.signed_at,
            "key_fingerprint": self.key_fingerprint,
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.fields(), "signature": base64.b64encode(self.signature).decode()}


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


# -- keys ------------------------------------------------------------------------------------


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as PEM: (private PKCS#8, public SubjectPublicKeyInfo)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise CheckpointError(f"not an unencrypted PEM private key: {_first(error)}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("the private key is not an Ed25519 key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise CheckpointError(f"not a PEM public key: {_first(error)}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError("the public key is not an Ed25519 key")
    return key


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# -- signing and checking -----------------------------------------------------------------------


def sign(
    key: Ed25519PrivateKey, position: int, hash: bytes, recorded_at: str, signed_at: datetime
) -> Checkpoint:
    unsigned = Checkpoint(
        position, hash, recorded_at, signed_at.isoformat(), fingerprint(key.public_key()), b""
    )
    signature = key.sign(canonical(unsigned.fields()))
    return replace(unsigned, signature=signature)


def parse(data: bytes | str | dict[str, Any]) -> Checkpoint:
    """A checkpoint from its JSON; anything else is a CheckpointError naming the problem."""
    body = data if isinstance(data, dict) else _json_object(data)
    if body.get("format") != FORMAT:
        raise CheckpointError(f"not a checkpoint: format must be {FORMAT!r}")
    missing = [name for name in (*FIELDS, "signature") if name not in body]
    if missing:
        raise CheckpointError(f"malformed checkpoint: missing {', '.join(missing)}")
    extra = sorted(set(body) - {*FIELDS, "signature"})
    if extra:
        raise CheckpointError(f"malformed checkpoint: unknown field {extra[0]}")
    position = body["position"]
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise CheckpointError("malformed checkpoint: position must be a positive integer")
    for name in ("recorded_at", "signed_at", "key_fingerprint"):
        if not isinstance(body[name], str):
            raise CheckpointError(f"malformed checkpoint: {name} must be text")
    return Checkpoint(
        position,
        _decode(body["hash"], "hash", bytes.fromhex, 32),
        body["recorded_at"],
        body["signed_at"],
        body["key_fingerprint"],
        _decode(body["signature"], "signature", _b64, 64),
    )


def check_signature(checkpoint: Checkpoint, key: Ed25519PublicKey) -> None:
    """Raise unless `key` signed exactly these fields."""
    given = fingerprint(key)
    if checkpoint.key_fingerprint != given:
        raise CheckpointError(
            f"the checkpoint names key {checkpoint.key_fingerprint}, not the given key {given}"
        )
    try:
        key.verify(checkpoint.signature, canonical(checkpoint.fields()))
    except InvalidSignature:
        raise CheckpointError(
            "the checkpoint's signature does not verify with the given key"
            " (it was altered, or signed by another key)"
        ) from None


def _json_object(data: bytes | str) -> dict[str, Any]:
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"malformed checkpoint: not JSON ({_first(error)})") from None
    if not isinstance(body, dict):
        raise CheckpointError("malformed checkpoint: not a JSON object")
    return body


def _decode(value: Any, name: str, decode: Any, size: int) -> bytes:
    try:
        raw = decode(value) if isinstance(value, str) else None
    except (ValueError, binascii.Error):
        raw = None
    if not isinstance(raw, bytes) or len(raw) != size:
        raise CheckpointError(f"malformed checkpoint: {name} is not {size} encoded bytes")
    return raw


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _first(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
