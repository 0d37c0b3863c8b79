"""The audit use cases shared by the CLI and the API: chain status, verify, checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder

from projections.store import ViewStore
from replay import chain_follower
from replay.checkpoints import Checkpoint, CheckpointError, check_signature, sign
from replay.verify import Anchor, Verification, verify

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ChainStatus:
    position: int  # the last linked position
    hash: bytes
    log_head: int

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "hash": self.hash.hex(),
            "log_head": self.log_head,
            "behind": self.log_head > self.position,
        }


def chain_status(app: Application[Any], store: ViewStore) -> ChainStatus:
    log_head = _recorder(app).max_notification_id() or 0
    with store.read() as cur:
        head = chain_follower.head(cur)
    return ChainStatus(head.position, head.hash, log_head)


def verify_log(
    app: Application[Any], store: ViewStore, on_page: Progress | None = None
) -> Verification:
    return verify(app, store, on_page=on_page)


def sign_checkpoint(
    app: Application[Any],
    store: ViewStore,
    key: Ed25519PrivateKey,
    on_page: Progress | None = None,
) -> Checkpoint:
    """Sign the recorded chain's head, once the whole log verifies against it: a checkpoint
    must never vouch for a history that was already tampered with."""
    checked = verify_log(app, store, on_page)
    if checked.finding is not None:
        raise CheckpointError(f"not signed: {checked.finding.line()}", rule="chain-finding")
    if checked.verified == 0:
        raise CheckpointError("not signed: the chain has no events yet", rule="chain-empty")
    return sign(
        key,
        checked.position,
        checked.head_hash,
        recorded_at(app, checked.position),
        datetime.now(UTC),
    )


def verify_checkpoint(
    app: Application[Any],
    store: ViewStore,
    checkpoint: Checkpoint,
    key: Ed25519PublicKey,
    on_page: Progress | None = None,
    *,
    whole_log: bool = False,
) -> Verification:
    """The signature first, then the log recomputed up to the checkpoint (or all of it)."""
    check_signature(checkpoint, key)
    head = _recorder(app).max_notification_id() or 0
    if checkpoint.position > head:
        raise CheckpointError(
            f"the checkpoint's position {checkpoint.position} is beyond the log head {head}",
            rule="checkpoint-beyond-head",
        )
    anchor = Anchor(checkpoint.position, checkpoint.hash)
    until = None if whole_log else checkpoint.position
    return verify(app, store, until=until, anchor=anchor, on_page=on_page)


def recorded_at(app: Application[Any], position: int) -> str:
    """The recorded time (the library's timestamp) of the event at `position`."""
    found = _recorder(app).select_notifications(start=position, limit=1, stop=position)
    if not found:
        raise CheckpointError(f"no event at position {position}", rule="chain-finding")
    event: Any = app.mapper.to_domain_event(found[0])
    timestamp: datetime = event.timestamp
    return timestamp.isoformat()


def _recorder(app: Application[Any]) -> ApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, ApplicationRecorder):
        raise TypeError("the application records no log")
    return recorder
