"""The audit bundle: the log up to a moment, its chain and a checkpoint, verifiable without
OrderLedger's database (README.md in each bundle, written by `bundle_readme`).

The log is verified against the recorded chain first (a bundle never vouches for a history
that was already tampered with), then streamed page by page into a temporary folder beside
OUT, which is moved into place only once complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification

from domain.exceptions import InvalidInput, Unavailable
from projections.store import ViewStore
from replay import bundle_readme, bundle_verify, chain_follower
from replay.chain import Linker, log_pages
from replay.checkpoints import sign
from replay.moments import Moment
from replay.verify import verify

Format = Literal["dir", "zip"]
Progress = Callable[[int], None]
FILES = ("events.jsonl", "chain.jsonl", "checkpoint.json", "public_key.pem", "README.md",
         "verify_bundle.py")  # fmt: skip


class ExportRefused(InvalidInput):
    rule = "export-refused"


@dataclass(frozen=True)
class Exported:
    path: Path
    events: int
    first_position: int
    last_position: int
    head_hash: bytes
    signed: bool
    not_json: int  # stored states that are not JSON (a cipher or compressor was on)


def check_out(out: Path, fmt: Format) -> None:
    """OUT must not exist, or be an empty folder (for `dir`) or an empty file (for `zip`)."""
    if not out.exists():
        if not out.parent.is_dir():
            raise ExportRefused(f"{out.parent} is not a folder")
        return
    if fmt == "dir" and out.is_dir() and not any(out.iterdir()):
        return
    if fmt == "zip" and out.is_file() and out.stat().st_size == 0:
        return
    raise ExportRefused(f"{out} already exists and is not empty; bundles are never overwritten")


def export_bundle(
    app: Application[Any],
    store: ViewStore,
    out: Path,
    moment: Moment,
    *,
    key: Ed25519PrivateKey | None = None,
    fmt: Format = "dir",
    on_page: Progress | None = None,
    on_verified: Progress | None = None,
) -> Exported:
    """Verify the log up to `moment`, then write the bundle to `out` (all or nothing)."""
    check_out(out, fmt)
    recorder = _recorder(app)
    checked = _verified_head(recorder, store, moment.position, on_verified)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        folder = work / "bundle"
        folder.mkdir()
        written = _write(app, recorder, store, folder, moment, key, on_page)
        if written.head_hash != checked:
            raise ExportRefused("the log changed while it was exported; nothing was written")
        _move_into_place(folder, work, out, fmt)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Exported(out, written.events, written.first_position, written.last_position,
                    written.head_hash, written.signed, written.not_json)  # fmt: skip


def _verified_head(
    recorder: ApplicationRecorder, store: ViewStore, position: int, on_page: Progress | None
) -> bytes:
    with store.read() as cur:
        linked = chain_follower.head(cur).position
    if linked < position:
        raise Unavailable(
            f"the chain is linked up to position {linked}, not yet {position}:"
            " export up to there, or once the chain follower has caught up",
            rule="chain-behind",
        )
    result = verify(recorder, store, until=position, on_page=on_page)
    if result.finding is not None:
        raise ExportRefused(f"not exported: {result.finding.line()}", rule="chain-finding")
    if result.verified == 0:
        raise ExportRefused(f"no events up to position {position}", rule="chain-empty")
    return result.head_hash


@dataclass
class _Written:
    events: int = 0
    first_position: int = 0
    last_position: int = 0
    head_hash: bytes = b""
    recorded_at: str = ""
    signed: bool = False
    not_json: int = 0


class _HashingFile:
    """A file written once, hashed as it is written (for the manifest)."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb", buffering=1 << 20)
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.sha256.update(data)


def _write(
    app: Application[Any],
    recorder: ApplicationRecorder,
    store: ViewStore,
    folder: Path,
    moment: Moment,
    key: Ed25519PrivateKey | None,
    on_page: Progress | None,
) -> _Written:
    written = _Written()
    hashes = _write_log(app, recorder, store, folder, moment.position, written, on_page)
    checkpoint = _checkpoint(written, key)
    files = {"checkpoint.json": json.dumps(checkpoint, indent=2).encode() + b"\n"}
    if key is not None:
        files["public_key.pem"] = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    files["README.md"] = bundle_readme.render(written, checkpoint, moment.asked).encode()
    files["verify_bundle.py"] = Path(bundle_verify.__file__).read_bytes()
    for name, data in files.items():
        (folder / name).write_bytes(data)
        hashes[name] = hashlib.sha256(data).hexdigest()
    manifest = _manifest(written, hashes, moment, folder)
    (folder / "manifest.json").write_bytes(json.dumps(manifest, indent=2).encode() + b"\n")
    return written


def _write_log(
    app: Application[Any],
    recorder: ApplicationRecorder,
    store: ViewStore,
    folder: Path,
    position: int,
    written: _Written,
    on_page: Progress | None,
) -> dict[str, str]:
    events, chain = _HashingFile(folder / "events.jsonl"), _HashingFile(folder / "chain.jsonl")
    linker = Linker()
    prefetch = store.dialect == "postgres"
    try:
        for page in log_pages(recorder, stop=position, prefetch=prefetch):
            lines, links = [], []
            for n, (at, chained, _) in zip(page, linker.links(page), strict=True):
                lines.append(_event_line(app, n, written))
                links.append(b'{"position":%d,"hash":"%s"}\n' % (at, chained.hex().encode()))
            events.write(b"".join(lines))
            chain.write(b"".join(links))
            written.events += len(page)
            written.first_position = written.first_position or page[0].id
            written.last_position = page[-1].id
            if on_page:
                on_page(written.last_position)
    finally:
        events.file.close()
        chain.file.close()
    written.head_hash = linker.previous
    return {"events.jsonl": events.sha256.hexdigest(), "chain.jsonl": chain.sha256.hexdigest()}


def _event_line(app: Application[Any], n: Notification, written: _Written) -> bytes:
    """One event as stored: state as base64 (what the chain hashes) and, when the stored
    state is JSON, the same bytes inlined as `data` (no re-encoding: byte for byte)."""
    state = n.state
    data = _json_state(state)
    if data is None:
        written.not_json += 1
        event: Any = app.mapper.to_domain_event(n)  # a cipher or compressor is on
        recorded_at = event.timestamp.isoformat()
    else:
        recorded_at = data["timestamp"]["_data_"]
    written.recorded_at = recorded_at
    head = orjson.dumps({
        "position": n.id, "topic": n.topic, "originator_id": str(n.originator_id),
        "originator_version": n.originator_version, "recorded_at": recorded_at,
        "state_base64": base64.b64encode(state).decode(),
    })  # fmt: skip
    if data is None:
        return head + b"\n"
    return head[:-1] + b',"data":' + state + b"}\n"


def _json_state(state: bytes) -> Any:
    """The stored state parsed, if it is one line of JSON with the library's timestamp."""
    if b"\n" in state or b"\r" in state:
        return None
    try:
        data = orjson.loads(state)
        stamp = data["timestamp"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None
    if not isinstance(stamp, dict) or not isinstance(stamp.get("_data_"), str):
        return None
    return data


def _checkpoint(written: _Written, key: Ed25519PrivateKey | None) -> dict[str, Any]:
    if key is not None:
        written.signed = True
        signed = sign(key, written.last_position, written.head_hash, written.recorded_at,
                      datetime.now(UTC))  # fmt: skip
        return signed.as_json()
    return {"format": bundle_verify.CHECKPOINT_FORMAT, "position": written.last_position,
            "hash": written.head_hash.hex(), "recorded_at": written.recorded_at,
            "signed_at": None, "key_fingerprint": None, "signature": None}  # fmt: skip


def _manifest(
    written: _Written, hashes: dict[str, str], moment: Moment, folder: Path
) -> dict[str, Any]:
    return {
        "format": bundle_verify.BUNDLE_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "asked": moment.asked,
        "log_head_at_export": moment.head,
        "events": written.events,
        "first_position": written.first_position,
        "last_position": written.last_position,
        "head_hash": written.head_hash.hex(),
        "signed": written.signed,
        "states_not_json": written.not_json,
        "files": {
            name: {"sha256": hashes[name], "bytes": (folder / name).stat().st_size}
            for name in FILES
            if name in hashes
        },
    }


def _move_into_place(folder: Path, work: Path, out: Path, fmt: Format) -> None:
    if fmt == "dir":
        if out.is_dir():  # the empty folder check_out allowed
            out.rmdir()
        os.rename(folder, out)
        return
    packed = work / "bundle.zip"
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in (*FILES, "manifest.json"):
            if (folder / name).exists():
                archive.write(folder / name, name)
    os.replace(packed, out)


def _recorder(app: Application[Any]) -> ApplicationRecorder:
    recorder = app.recorder
    if not isinstance(recorder, ApplicationRecorder):
        raise TypeError("the application records no log")
    return recorder
