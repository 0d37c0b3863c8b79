"""The chain's canonical encoding, written out byte by byte as docs/audit.md states it."""

from __future__ import annotations

import hashlib
import uuid

from eventsourcing.persistence import Notification

from replay.chain import GENESIS, chain_links, event_digest, link_hash

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def spelled_out(position: int, topic: str, version: int, state: bytes, previous: bytes) -> bytes:
    text_id = b"12345678-1234-5678-1234-567812345678"
    content = (
        len(topic).to_bytes(4, "big") + topic.encode()
        + len(text_id).to_bytes(4, "big") + text_id
        + version.to_bytes(8, "big")
        + len(state).to_bytes(8, "big") + state
    )  # fmt: skip
    digest = hashlib.sha256(content).digest()
    return hashlib.sha256(previous + position.to_bytes(8, "big") + digest).digest()


def test_the_chain_follows_the_documented_encoding_from_the_genesis() -> None:
    first = Notification(ID, 1, "domain.x:Made", b'{"a":1}', id=3)
    second = Notification(ID, 2, "domain.x:Changed", b"", id=7)  # a gap: 4-6 do not exist
    links = chain_links([first, second], GENESIS)
    h1 = spelled_out(3, "domain.x:Made", 1, b'{"a":1}', bytes(32))
    assert [position for position, _, _ in links] == [3, 7]
    assert links[0][1] == h1
    assert links[1][1] == spelled_out(7, "domain.x:Changed", 2, b"", h1)
    assert links[0][2] == event_digest("domain.x:Made", ID, 1, b'{"a":1}')
    assert links[1][1] == link_hash(h1, 7, links[1][2])


def test_every_field_and_the_position_change_the_link() -> None:
    base = Notification(ID, 1, "t", b"state", id=1)
    variants = [
        Notification(uuid.uuid4(), 1, "t", b"state", id=1),
        Notification(ID, 2, "t", b"state", id=1),
        Notification(ID, 1, "u", b"state", id=1),
        Notification(ID, 1, "t", b"statf", id=1),
        Notification(ID, 1, "t", b"state", id=2),
        Notification(ID, 1, "ts", b"tate", id=1),  # bytes moved between fields
    ]
    hashes = {chain_links([n], GENESIS)[0][1] for n in [base, *variants]}
    assert len(hashes) == 1 + len(variants)
