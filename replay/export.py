"""The audit bundle: the log up to a moment, its chain and a checkpoint, verifiable without
OrderLedger's database (README.md in each bundle, written by `bundle_readme`).

The log is streamed page by page into a temporary folder beside OUT, each page checked
against the recorded chain as it is written (`export_log`: a bundle never vouches for a
history that was already tampered with); the folder is moved into place only once complete,
so a refused or failed export leaves nothing behind.
"""

from __future__ import annotations

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
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder

from domain.exceptions import InvalidInput, Unavailable
from projections.store import Cursor, ViewStore
from replay import bundle_readme, bundle_verify, chain_follower
from replay.checkpoints import sign
from replay.export_log import Departed, LogSource, Written, write_log
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
) -> Exported:
    """Write the bundle of the log up to `moment` to `out`, checking the log against the
    recorded chain as it is written (all or nothing)."""
    check_out(out, fmt)
    recorder = _recorder(app)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        folder = work / "bundle"
        folder.mkdir()
        with store.read() as cur:
            _linked_that_far(cur, moment.position)
            source = LogSource(app, recorder, cur, prefetch=store.dialect == "postgres")
            try:
                written = _write(source, folder, moment, key, on_page)
            except Departed:
                raise _refusal(app, store, moment.position) from None
        _move_into_place(folder, work, out, fmt)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Exported(out, written.events, written.first_position, written.last_position,
                    written.head_hash, written.signed, written.not_json)  # fmt: skip


def _linked_that_far(cur: Cursor, position: int) -> None:
    linked = chain_follower.head(cur).position
    if linked < position:
        raise Unavailable(
            f"the chain is linked up to position {linked}, not yet {position}:"
            " export up to there, or once the chain follower has caught up",
            rule="chain-behind",
        )


def _refusal(app: Application[Any], store: ViewStore, position: int) -> ExportRefused:
    """The log departed from the recorded chain: `replay.verify` names the first finding."""
    finding = verify(app, store, until=position).finding
    if finding is None:
        return ExportRefused("the log changed while it was exported; nothing was written")
    return ExportRefused(f"not exported: {finding.line()}", rule="chain-finding")


def _write(
    source: LogSource,
    folder: Path,
    moment: Moment,
    key: Ed25519PrivateKey | None,
    on_page: Progress | None,
) -> Written:
    written = Written()
    hashes = write_log(source, folder, moment.position, written, on_page)
    if written.events == 0:
        raise ExportRefused(f"no events up to position {moment.position}", rule="chain-empty")
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


def _checkpoint(written: Written, key: Ed25519PrivateKey | None) -> dict[str, Any]:
    if key is not None:
        written.signed = True
        signed = sign(key, written.last_position, written.head_hash, written.recorded_at,
                      datetime.now(UTC))  # fmt: skip
        return signed.as_json()
    return {"format": bundle_verify.CHECKPOINT_FORMAT, "position": written.last_position,
            "hash": written.head_hash.hex(), "recorded_at": written.recorded_at,
            "signed_at": None, "key_fingerprint": None, "signature": None}  # fmt: skip


def _manifest(
    written: Written, hashes: dict[str, str], moment: Moment, folder: Path
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
