"""Verify an OrderLedger audit bundle without OrderLedger: python verify_bundle.py BUNDLE.

BUNDLE is the bundle's folder or its .zip (default: the folder this script is in). The
chain is recomputed from events.jsonl and compared line by line with chain.jsonl, then
with the checkpoint's head; the checkpoint's Ed25519 signature is checked (with
--public-key, or the bundle's public_key.pem), and every file against manifest.json.
Prints "OK: …" and exits 0, or "FAIL: …" naming the first finding's position or file and
line, and exits 1. README.md in the bundle describes every field and the hash recurrence.

This one file is both OrderLedger's own bundle verifier (`orderledger audit verify-export`)
and the copy written into every bundle, so it needs only the standard library and the
`cryptography` package, and stays a single file.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import struct
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "orderledger-audit-bundle/1"
CHECKPOINT_FORMAT = "orderledger-chain-checkpoint/1"
CHECKPOINT_FIELDS = ("format", "position", "hash", "recorded_at", "signed_at", "key_fingerprint")
EVENT_FIELDS = {"position": int, "topic": str, "originator_id": str,
                "originator_version": int, "recorded_at": str, "state_base64": str}  # fmt: skip
GENESIS = bytes(32)
_U32, _U64 = struct.Struct(">I").pack, struct.Struct(">Q").pack
_VERSION_SIZE = struct.Struct(">QQ").pack
_sha256 = hashlib.sha256


class Finding(Exception):
    """The first thing wrong with the bundle: where (position, or file and line) and what."""

    def __init__(self, kind: str, detail: str, position: int | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.position = kind, detail, position

    def line(self) -> str:
        at = f" at position {self.position}" if self.position is not None else ""
        return f"{self.kind}{at}: {self.detail}"


@dataclass(frozen=True)
class Result:
    events: int
    first_position: int
    last_position: int
    head_hash: bytes
    key_fingerprint: str | None  # None: the bundle is unsigned

    def line(self) -> str:
        signed = (
            f"checkpoint signed by key {self.key_fingerprint}"
            if self.key_fingerprint
            else "UNSIGNED (consistent, but anyone could have written it)"
        )
        return (
            f"{self.events} events, positions {self.first_position}..{self.last_position},"
            f" head hash {self.head_hash.hex()}; {signed}"
        )


def event_digest(topic: str, originator_id: str, version: int, state: bytes) -> bytes:
    """SHA-256 of one event's canonical encoding (README.md, "The hash chain")."""
    return hashlib.sha256(
        _text(topic) + _text(originator_id) + _U64(version) + _U64(len(state)) + state
    ).digest()


def link_hash(previous: bytes, position: int, digest: bytes) -> bytes:
    return hashlib.sha256(previous + _U64(position) + digest).digest()


def _text(value: str) -> bytes:
    encoded = value.encode()
    return _U32(len(encoded)) + encoded


def canonical(fields: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: every field but `signature`, as JSON."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# -- the bundle's files --------------------------------------------------------------------


class Bundle:
    """The files of a bundle folder or zip, read as streams (a bundle can be large)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> list[str]:
        if self._zip is not None:
            return sorted(self._zip.namelist())
        return sorted(p.name for p in self.path.iterdir())

    def open(self, name: str) -> IO[bytes]:
        try:
            if self._zip is not None:
                return self._zip.open(name)
            return (self.path / name).open("rb")
        except (KeyError, OSError):
            raise Finding("missing", f"the bundle has no {name}") from None

    def read(self, name: str) -> bytes:
        with self.open(name) as file:
            return file.read()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise Finding("malformed", f"{where}: not JSON ({error})") from None


# -- the checkpoint and its signature --------------------------------------------------------


def check_checkpoint(bundle: Bundle, manifest: dict[str, Any], key_pem: bytes | None) -> Any:
    """The checkpoint's fields; its signature checked against `key_pem` (or the bundle's
    public_key.pem). An unsigned checkpoint is allowed only when no key is given."""
    body = _json(bundle.read("checkpoint.json"), "checkpoint.json")
    if not isinstance(body, dict) or body.get("format") != CHECKPOINT_FORMAT:
        raise Finding("malformed", f"checkpoint.json: format must be {CHECKPOINT_FORMAT!r}")
    missing = [name for name in (*CHECKPOINT_FIELDS, "signature") if name not in body]
    if missing:
        raise Finding("malformed", f"checkpoint.json: missing {', '.join(missing)}")
    position = body["position"]
    if type(position) is not int or position < 1:
        raise Finding("malformed", "checkpoint.json: position must be a positive integer")
    body["hash_bytes"] = _decode(body["hash"], "hash", bytes.fromhex, 32)
    if body["signature"] is None:
        if key_pem is not None:
            raise Finding("unsigned", "the bundle is unsigned, so no key can vouch for it")
        if manifest.get("signed") is not False:
            raise Finding("unsigned", "checkpoint.json carries no signature, manifest.json"
                          " says the bundle is signed")  # fmt: skip
        return body
    _check_signature(body, key_pem if key_pem is not None else bundle.read("public_key.pem"))
    return body


def _check_signature(body: dict[str, Any], key_pem: bytes) -> None:
    signature = _decode(body["signature"], "signature", _b64, 64)
    try:
        key = serialization.load_pem_public_key(key_pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise Finding("key", f"not a PEM public key: {first}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise Finding("key", "the public key is not an Ed25519 key")
    if body["key_fingerprint"] != fingerprint(key):
        raise Finding("signature", f"checkpoint.json names key {body['key_fingerprint']},"
                      f" not the given key {fingerprint(key)}")  # fmt: skip
    try:
        key.verify(signature, canonical({name: body[name] for name in CHECKPOINT_FIELDS}))
    except InvalidSignature:
        raise Finding("signature", "checkpoint.json's signature does not verify with the"
                      " key (it was altered, or signed by another key)") from None  # fmt: skip


def _decode(value: Any, name: str, decode: Callable[[str], bytes], size: int) -> bytes:
    try:
        raw = decode(value) if isinstance(value, str) else None
    except (ValueError, binascii.Error):
        raw = None
    if raw is None or len(raw) != size:
        raise Finding("malformed", f"checkpoint.json: {name} is not {size} encoded bytes")
    return raw


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# -- the chain ---------------------------------------------------------------------------

CHUNK = 1 << 20  # bytes read (and hashed) at a time
_PLAIN = rb"[\x20\x21\x23-\x5b\x5d-\x7e]*"  # printable ASCII but `"` and `\`: no escapes
_EXPORTED = re.compile(  # the start of an event line exactly as OrderLedger writes it
    rb'\{"position":([1-9][0-9]{0,17}),"topic":"('
    + _PLAIN
    + rb')","originator_id":"('
    + _PLAIN
    + rb')","originator_version":([1-9][0-9]{0,17}|0),"recorded_at":"('
    + _PLAIN
    + rb')","state_base64":"'
)
_STAMP = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'


class _Lines:
    """The lines of one file, without their line ends, read and hashed a chunk at a time."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        self.file, self.name, self.sha256 = file, name, hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        rest, count = b"", 0
        while chunk := self.file.read(CHUNK):
            self.sha256.update(chunk)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            count += len(lines)
            yield from lines
        if rest:
            raise Finding("truncated", f"{self.name} line {count + 1} has no line end"
                          " (the file was cut short)")  # fmt: skip


def _event(raw: bytes, line: int) -> dict[str, Any]:
    event = _json(raw, f"events.jsonl line {line}")
    if not isinstance(event, dict):
        raise Finding("malformed", f"events.jsonl line {line}: not a JSON object")
    for name, kind in EVENT_FIELDS.items():
        if type(event.get(name)) is not kind:
            raise Finding("malformed", f"events.jsonl line {line}: {name} missing or not"
                          f" {kind.__name__}")  # fmt: skip
    try:
        event["state"] = base64.b64decode(event["state_base64"], validate=True)
    except binascii.Error:
        raise Finding(
            "malformed", f"events.jsonl line {line}: state_base64 is not base64"
        ) from None
    return event


def parse_link(raw: bytes, line: int) -> tuple[int, bytes]:
    link = _json(raw, f"chain.jsonl line {line}")
    try:
        position, hash = link["position"], bytes.fromhex(link["hash"])
        if type(position) is not int or len(hash) != 32:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise Finding("malformed", f"chain.jsonl line {line}: needs position and a"
                      " 64-hex-digit hash") from None  # fmt: skip
    return position, hash


def _readable_matches(event: dict[str, Any], line: int) -> None:
    """`data` and `recorded_at` are conveniences; they must say what the hashed state says."""
    if "data" not in event:
        return
    where = f"events.jsonl line {line}"
    try:
        stored = json.loads(event["state"])
    except (ValueError, UnicodeDecodeError):
        raise Finding("changed", f"{where}: has data, but its state is not JSON",
                      event["position"]) from None  # fmt: skip
    if stored != event["data"]:
        raise Finding("changed", f"{where}: data differs from the hashed state", event["position"])
    stamp = stored.get("timestamp") if isinstance(stored, dict) else None
    if isinstance(stamp, dict) and stamp.get("_data_") != event["recorded_at"]:
        detail = f"{where}: recorded_at differs from the hashed state's timestamp"
        raise Finding("changed", detail, event["position"])


@dataclass
class _Walk:
    events: int = 0
    first: int = 0
    last: int = 0
    head: bytes = GENESIS  # recomputed from the events alone
    recorded: bytes = GENESIS  # chain.jsonl's previous line
    recorded_at: str = ""
    suspect: tuple[int, int] | None = None  # (line, position) whose chain hash did not match
    topics: dict[bytes, bytes] = field(default_factory=dict)  # length-prefixed, as hashed


def walk_chain(
    bundle: Bundle, on_line: Callable[[int], None] | None = None
) -> tuple[_Walk, dict[str, str]]:
    """Recompute the chain, line by line beside chain.jsonl; the walk and the files' SHA-256.

    A line exactly as OrderLedger writes it takes `_fast_step`; any other line, or one that
    step cannot vouch for, is parsed as JSON and checked field by field, which names the
    finding."""
    walk = _Walk()
    with bundle.open("events.jsonl") as events_file, bundle.open("chain.jsonl") as chain_file:
        events, chain = _Lines(events_file, "events.jsonl"), _Lines(chain_file, "chain.jsonl")
        for line, (raw, link) in enumerate(zip_longest(events, chain), 1):
            if raw is None:
                raise Finding("removed", f"chain.jsonl line {line} links it, events.jsonl"
                              f" ends at line {line - 1}", parse_link(link, line)[0])  # fmt: skip
            if link is None or not _fast_step(walk, raw, link):
                _full_step(walk, raw, link, line)
            if on_line is not None and line % 1000 == 0:
                on_line(walk.last)
    return walk, {"events.jsonl": events.sha256.hexdigest(),
                  "chain.jsonl": chain.sha256.hexdigest()}  # fmt: skip


def _fast_step(walk: _Walk, raw: bytes, link: bytes) -> bool:
    """Check one line without parsing JSON, if it is laid out as OrderLedger writes it;
    False sends it to `_full_step`. The chain authenticates the state's bytes, so a `data`
    that is those very bytes says what the state says, and a state that opens with its
    timestamp equal to `recorded_at` agrees with it (the library writes the timestamp first)."""
    head = _EXPORTED.match(raw)
    if head is None or walk.suspect is not None:
        return False
    start = head.end()
    end = raw.find(b'"', start)
    if end < 0:
        return False
    if end + 2 == len(raw) and raw[-1] == 0x7D:  # `}`: no data
        state = binascii.a2b_base64(raw[start:end])
    elif raw.startswith(b'","data":', end) and raw[-1] == 0x7D:
        state = raw[end + 9 : -1]
        if not state.startswith(b'%s%s"}' % (_STAMP, head[5])):
            return False
    else:
        return False
    position = int(head[1])
    encoded = binascii.b2a_base64(state, newline=False)
    if position <= walk.last or len(encoded) != end - start or not raw.startswith(encoded, start):
        return False
    topic = walk.topics.get(head[2])
    if topic is None:
        topic = walk.topics[head[2]] = _U32(len(head[2])) + head[2]
    oid = head[3]
    digest = _sha256(b"%s%s%s%s%s" % (topic, _U32(len(oid)), oid,
                                      _VERSION_SIZE(int(head[4]), len(state)), state))  # fmt: skip
    chained = _sha256(b"%s%s%s" % (walk.head, _U64(position), digest.digest())).digest()
    if link != b'{"position":%d,"hash":"%s"}' % (position, binascii.hexlify(chained)):
        return False
    walk.head = walk.recorded = chained
    walk.events += 1
    walk.first = walk.first or position
    walk.last, walk.recorded_at = position, head[5].decode()
    return True


def _full_step(walk: _Walk, raw: bytes, link: bytes | None, line: int) -> None:
    event = _event(raw, line)
    if link is None:
        raise Finding("inserted", f"events.jsonl line {line} has no chain.jsonl line",
                      event["position"])  # fmt: skip
    _step(walk, event, parse_link(link, line), line)


def _step(walk: _Walk, event: dict[str, Any], link: tuple[int, bytes], line: int) -> None:
    position = event["position"]
    if position <= walk.last:
        raise Finding("reordered", f"events.jsonl line {line} comes after position {walk.last}",
                      position)  # fmt: skip
    if link[0] != position:
        raise Finding(
            "misplaced",
            f"chain.jsonl line {line} links position {link[0]}, events.jsonl line {line}"
            f" holds position {position} (an event was removed, inserted or moved)",
            min(link[0], position),
        )
    digest = event_digest(event["topic"], event["originator_id"], event["originator_version"],
                          event["state"])  # fmt: skip
    linked_here = link_hash(walk.recorded, position, digest) == link[1]
    _settle_suspect(walk, linked_here)
    if not linked_here:
        walk.suspect = (line, position)
    _readable_matches(event, line)
    walk.head = link_hash(walk.head, position, digest)
    walk.recorded = link[1]
    walk.events += 1
    walk.first = walk.first or position
    walk.last, walk.recorded_at = position, event["recorded_at"]


def _settle_suspect(walk: _Walk, next_links: bool) -> None:
    """A line whose chain hash did not match is named once what follows shows which file
    was edited: if the chain goes on from the recorded hash, the event was changed. For the
    last line, what follows is the checkpoint."""
    if walk.suspect is None:
        return
    line, position = walk.suspect
    if next_links:
        raise Finding("changed", f"events.jsonl line {line} does not give chain.jsonl's hash"
                      " (the event was altered, or one before it removed)", position)  # fmt: skip
    raise Finding("chain-altered", f"chain.jsonl line {line} is not the hash of its event"
                  " (the chain line was altered)", position)  # fmt: skip


# -- the whole bundle ------------------------------------------------------------------------


def verify_bundle(
    path: Path, key_pem: bytes | None = None, on_line: Callable[[int], None] | None = None
) -> Result:
    """Every check, in order; the first finding is raised as `Finding`."""
    if not path.exists():
        raise Finding("missing", f"{path} does not exist")
    try:
        bundle = Bundle(path)
    except zipfile.BadZipFile:
        raise Finding("malformed", f"{path} is neither a bundle folder nor a zip") from None
    try:
        return _verify(bundle, key_pem, on_line)
    finally:
        bundle.close()


def _verify(bundle: Bundle, key_pem: bytes | None, on_line: Callable[[int], None] | None) -> Result:
    manifest = _json(bundle.read("manifest.json"), "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise Finding("malformed", f"manifest.json: format must be {BUNDLE_FORMAT!r}")
    checkpoint = check_checkpoint(bundle, manifest, key_pem)
    walk, hashes = walk_chain(bundle, on_line)
    _settle_suspect(walk, walk.head != checkpoint["hash_bytes"])
    _check_head(walk, checkpoint)
    _check_manifest(bundle, manifest, walk, hashes)
    return Result(walk.events, walk.first, walk.last, walk.head, checkpoint["key_fingerprint"])


def _check_head(walk: _Walk, checkpoint: dict[str, Any]) -> None:
    position = checkpoint["position"]
    if walk.events == 0:
        raise Finding("truncated", "events.jsonl holds no events")
    if walk.last != position:
        raise Finding("truncated" if walk.last < position else "inserted",
                      f"the events end at position {walk.last}, the checkpoint is at"
                      f" position {position}", min(walk.last, position))  # fmt: skip
    if walk.head != checkpoint["hash_bytes"]:
        raise Finding("checkpoint", "the events give head hash"
                      f" {walk.head.hex()}, the checkpoint says {checkpoint['hash']}",
                      position)  # fmt: skip
    if checkpoint["recorded_at"] != walk.recorded_at:
        raise Finding("checkpoint", "the checkpoint's recorded_at is not the last event's",
                      position)  # fmt: skip


def _check_manifest(
    bundle: Bundle, manifest: dict[str, Any], walk: _Walk, hashes: dict[str, str]
) -> None:
    counts = {"events": walk.events, "first_position": walk.first,
              "last_position": walk.last, "head_hash": walk.head.hex()}  # fmt: skip
    for name, value in counts.items():
        if manifest.get(name) != value:
            raise Finding("manifest", f"manifest.json says {name} {manifest.get(name)!r},"
                          f" the bundle holds {value!r}")  # fmt: skip
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise Finding("manifest", "manifest.json: files must map names to their SHA-256")
    unlisted = sorted(set(bundle.names()) - set(files) - {"manifest.json"})
    if unlisted:
        raise Finding("manifest", f"{unlisted[0]} is in the bundle but not in manifest.json")
    for name, listed in sorted(files.items()):
        actual = hashes.get(name) or hashlib.sha256(bundle.read(name)).hexdigest()
        if not isinstance(listed, dict) or listed.get("sha256") != actual:
            raise Finding("manifest", f"the SHA-256 of {name} is {actual},"
                          " manifest.json says otherwise")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--public-key", type=Path, help="PEM public key you trust (default:"
                        " the bundle's public_key.pem)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        key = args.public_key.read_bytes() if args.public_key else None
        result = verify_bundle(args.bundle, key)
    except OSError as error:
        print(f"FAIL: cannot read {error.filename}: {error.strerror}")
        return 1
    except Finding as finding:
        print(f"FAIL: {finding.line()}")
        return 1
    print(f"OK: {result.line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
