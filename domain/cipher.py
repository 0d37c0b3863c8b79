"""Encryption of stored events: AES-GCM with one current key and, while keys rotate, old ones.

The event store's mapper encrypts every state it writes (events and snapshots) with the
current key and decrypts what it reads. The stored form is the library's `AESCipher`'s,
byte for byte (a 12-byte nonce, the 16-byte tag, then the ciphertext), so a store written
by either cipher reads with the other. What this one adds:

- old keys (`CIPHER_OLD_KEYS`, comma-separated): a state that the current key does not open
  is tried with each old key in turn, so a ledger keeps reading while its states are
  re-encrypted under a new key (`domain.key_rotation`);
- one `AESGCM` per key, made once (the library's makes one per call).

The hash chain (`replay.chain`) links each event's *opened* state — the stored bytes with the
cipher taken off — so re-encryption leaves every link, signed checkpoint and bundle valid.
"""

from __future__ import annotations

import binascii
import os
from base64 import b64decode, b64encode
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Cipher, Notification
from eventsourcing.utils import Environment

TOPIC = "domain.cipher:LedgerCipher"
KEY_SIZES = (16, 24, 32)
NONCE, TAG = 12, 16

# The stored state with the event store's cipher taken off (raises ValueError if it does not open).
Opener = Callable[[bytes], bytes]


class BadKey(ValueError):
    """A key that is not base64 of 16, 24 or 32 bytes."""


def parse_key(text: str, what: str = "the key") -> bytes:
    """The key's bytes, or a one-line reason it is not a key."""
    try:
        key = b64decode(text.strip().encode(), validate=True)
    except (binascii.Error, ValueError):
        raise BadKey(f"{what} is not base64 (make one with `orderledger cipher new-key`)") from None
    if len(key) not in KEY_SIZES:
        raise BadKey(
            f"{what} is {len(key)} bytes; AES keys are 16, 24 or 32 bytes (base64-encoded)"
        )
    return key


def new_key(size: int = 32) -> str:
    """A random key, base64-encoded."""
    if size not in KEY_SIZES:
        raise BadKey(f"AES keys are 16, 24 or 32 bytes, not {size}")
    return b64encode(os.urandom(size)).decode()


class LedgerCipher(Cipher):
    """AES-GCM under `CIPHER_KEY`; also decrypts what `CIPHER_OLD_KEYS` encrypted."""

    def __init__(self, environment: Environment) -> None:
        current = environment.get("CIPHER_KEY")
        if not current:
            raise BadKey("no CIPHER_KEY for the event store's cipher")
        old = [k for k in (environment.get("CIPHER_OLD_KEYS") or "").split(",") if k.strip()]
        self.keys = [parse_key(current), *(parse_key(k, "an old key") for k in old)]
        self._aead = [AESGCM(key) for key in self.keys]

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE)
        sealed = self._aead[0].encrypt(nonce, plaintext, None)
        return nonce + sealed[-TAG:] + sealed[:-TAG]  # the tag in front, as AESCipher stores it

    def decrypt(self, ciphertext: bytes) -> bytes:
        opened = self.open_with(ciphertext)
        if opened is None:
            raise ValueError("the state does not decrypt under the current key or any old key")
        return opened[1]

    def open_with(self, ciphertext: bytes) -> tuple[int, bytes] | None:
        """(index of the key that opens it — 0 is the current one —, the plaintext), or None."""
        if len(ciphertext) < NONCE + TAG:
            return None
        nonce, tag = ciphertext[:NONCE], ciphertext[NONCE : NONCE + TAG]
        sealed = ciphertext[NONCE + TAG :] + tag
        for index, aead in enumerate(self._aead):
            try:
                return index, aead.decrypt(nonce, sealed, None)
            except InvalidTag:
                continue
        return None


def state_opener(app: Application[Any]) -> Opener | None:
    """How to take the application's cipher off a stored state (None: states are stored open)."""
    cipher = app.mapper.cipher
    return None if cipher is None else cipher.decrypt


class StateUnreadable(ValueError):
    """A stored state that no configured key opens: changed, or encrypted under another key."""

    def __init__(self, position: int) -> None:
        super().__init__(
            f"the stored state at position {position} does not decrypt under the configured"
            " keys (changed, or encrypted under a key that is not configured)"
        )
        self.position = position


def opened(notifications: Sequence[Notification], opener: Opener | None) -> Sequence[Notification]:
    """The notifications with their states opened (the same list when no cipher is on)."""
    if opener is None:
        return notifications
    result = []
    for n in notifications:
        try:
            state = opener(n.state)
        except ValueError:
            raise StateUnreadable(n.id) from None
        result.append(
            Notification(
                id=n.id,
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=state,
            )
        )
    return result


class StoreUnreadable(ValueError):
    """The event store holds states this configuration cannot read (a key is wrong or missing)."""


def check_readable(app: Application[Any]) -> None:
    """Refuse a log whose newest event this configuration cannot read: a wrong or missing key,
    or encryption turned on over states stored in plain. Said in one line, at start-up,
    rather than as a failure of the first command or projection page."""
    recorder = app.recorder
    assert isinstance(recorder, ApplicationRecorder)
    head = recorder.max_notification_id() or 0
    newest = recorder.select_notifications(start=head, limit=1) if head else []
    if not newest:
        return
    try:
        app.mapper.to_domain_event(newest[0])
    except Exception as error:
        raise StoreUnreadable(_unreadable(app, newest[0].state, head, error)) from None


def _unreadable(app: Application[Any], state: bytes, position: int, error: Exception) -> str:
    plain = is_plain(state)
    if app.mapper.cipher is None and not plain:
        return (
            f"the stored events are encrypted (position {position}): set"
            " ORDERLEDGER_CIPHER_KEY or ORDERLEDGER_CIPHER_KEY_FILE"
        )
    if app.mapper.cipher is not None and plain:
        return (
            f"the stored events are not encrypted (position {position} is stored in plain):"
            " stop every server and run `orderledger cipher rotate --encrypt-plain`, or turn"
            " the cipher off"
        )
    if app.mapper.cipher is not None:
        return (
            f"the stored events do not decrypt under ORDERLEDGER_CIPHER_KEY or any old key"
            f" (position {position}): a wrong key?"
        )
    return f"cannot read the stored event at position {position}: {error}".splitlines()[0]


def is_plain(state: bytes) -> bool:
    """Whether a stored state is the transcoder's JSON object, unencrypted."""
    try:
        return isinstance(orjson.loads(state), dict)
    except orjson.JSONDecodeError:
        return False
