"""The README.md written into every audit bundle: the format, field by field, and how to
verify it by hand. It is the bundle's specification for readers without OrderLedger."""

from __future__ import annotations

from typing import Any, Protocol


class _Figures(Protocol):
    events: int
    first_position: int
    last_position: int
    head_hash: bytes
    not_json: int


TEMPLATE = """\
# OrderLedger audit bundle

This bundle holds {events:,} events of an OrderLedger log, positions {first}..{last}
(asked for: {asked}), the SHA-256 hash chain over them, and the chain's head as a
checkpoint. {signed_line}

Verify it with Python 3.11+ and the `cryptography` package, nothing else:

    python verify_bundle.py .                 # this folder (or the .zip)
    python verify_bundle.py . --public-key KEY_YOU_TRUST.pem

It prints `OK: …` and exits 0, or `FAIL: <finding> at position P: <file and line>` and
exits 1. `verify_bundle.py` is a copy of OrderLedger's own verifier
(`replay/bundle_verify.py`); a bundle could carry a doctored copy, so for a real audit use
a copy you got from the OrderLedger sources, or check the procedure below by hand.

## Files

| file | content |
|---|---|
| `events.jsonl` | one stored event per line, in log order |
| `chain.jsonl` | one line per event: `{{"position": P, "hash": "<64 hex>"}}`, the chain through P |
| `checkpoint.json` | the chain head (last position, its hash, its recorded time), signed or not |
| `public_key.pem` | the Ed25519 public key that signed the checkpoint (signed bundles only) |
| `manifest.json` | format, counts, first/last position, head hash, SHA-256 of the other files |
| `README.md` | this text |
| `verify_bundle.py` | the verifier |

Every line of the `.jsonl` files is one JSON object (UTF-8) ending with `\\n`. Positions
can have gaps (PostgreSQL leaves one where an insert was rolled back): a gap is not a
missing event.

### events.jsonl

| field | meaning |
|---|---|
| `position` | the event's position in the log (integer, increasing; gaps are normal) |
| `topic` | the event's type as `module:Class.Event` |
| `originator_id` | the aggregate's id as text (a UUID: 36 lower-case characters with hyphens) |
| `originator_version` | the event's version within its aggregate (integer ≥ 1) |
| `recorded_at` | when the event was recorded (ISO 8601 with offset); copied from the state |
| `state_base64` | the state as stored (decrypted), base64: **the bytes the chain hashes** |
| `data` | the same stored state inlined as JSON, for reading (only when it is JSON) |

`data` and `recorded_at` are conveniences: the chain covers `state_base64` only, so a
verifier checks that `data` equals the JSON decoding of the base64-decoded state, and that
`recorded_at` equals `data.timestamp._data_`. In `data`, values of special types are the
event store's typed objects, `{{"_type_": "uuid_hex" | "decimal_str" | "datetime_iso" |
"date_iso" | …, "_data_": "<text>"}}`. Each event's `meta` holds who did it (`actor`,
`role`), the `command` and the `correlation_id`.

States not stored as JSON in this bundle: {not_json}. OrderLedger stores states as JSON,
uncompressed; with its encryption at rest on, the chain hashes each state decrypted, and this
bundle carries them decrypted (so it verifies and reads without the key: keep it as you keep
the data it holds). Were the event store's compressor turned on, the stored bytes would be
compressed, the chain would hash those bytes exactly as stored, `state_base64` would carry
them, `data` would be absent, and the chain would verify just the same (`recorded_at` could
then be held to the state only for the last event, through the checkpoint).

## The hash chain

Integers are unsigned big-endian (`u32`: 4 bytes, `u64`: 8 bytes); text is UTF-8.

    content(e) = u32 len(topic) ‖ topic
               ‖ u32 len(originator_id) ‖ originator_id
               ‖ u64 originator_version
               ‖ u64 len(state) ‖ state          (state = base64-decoded state_base64)
    digest(e)  = SHA-256(content(e))
    h_0        = 32 zero bytes
    h_n        = SHA-256(h_(n-1) ‖ u64 position_n ‖ digest(e_n))

`n` runs over the lines of `events.jsonl`; `chain.jsonl` line n holds `h_n` in hex. Binding
the position into each link means a renumbered, moved, removed or inserted event changes
every later hash. The last hash is the head: {head}.

## The checkpoint

    {{"format": "orderledger-chain-checkpoint/1", "position": <last position>,
      "hash": "<head, 64 hex>", "recorded_at": "<recorded time of the last event>",
      "signed_at": "<ISO time>", "key_fingerprint": "sha256:<hex>",
      "signature": "<base64 of 64 bytes>"}}

`signature` is Ed25519 over the canonical JSON of all the other fields: keys sorted, no
whitespace (separators `,` and `:`), ASCII only (`json.dumps(fields, sort_keys=True,
separators=(",", ":"), ensure_ascii=True)`). `key_fingerprint` is `sha256:` and the hex
SHA-256 of the public key's 32 raw bytes. In an unsigned bundle `signed_at`,
`key_fingerprint` and `signature` are null: the bundle is then consistent with itself, but
anyone could have written all of it; only a signature checked with a public key obtained
separately (not the bundle's `public_key.pem` alone) says who vouches for the head.

The same checkpoint checks a live OrderLedger log:
`orderledger audit verify-checkpoint checkpoint.json --public-key public_key.pem`.

## manifest.json

`format` (`orderledger-audit-bundle/1`), `exported_at`, `asked` (the moment asked for),
`log_head_at_export`, `events`, `first_position`, `last_position`, `head_hash`, `signed`,
`states_not_json`, and `files`: for every file but itself, `{{"sha256": "<hex>", "bytes":
N}}`. The manifest is not signed: it catches damage in transit; the signed head is what
protects the history.

## Verify by hand

```python
import base64, hashlib, json, struct
from cryptography.hazmat.primitives.serialization import load_pem_public_key

u32 = lambda n: struct.pack(">I", n)
u64 = lambda n: struct.pack(">Q", n)
text = lambda s: u32(len(s.encode())) + s.encode()

h = bytes(32)
with open("events.jsonl", "rb") as events, open("chain.jsonl", "rb") as chain:
    for line, (e, c) in enumerate(zip(events, chain), 1):
        e, c = json.loads(e), json.loads(c)
        state = base64.b64decode(e["state_base64"])
        digest = hashlib.sha256(text(e["topic"]) + text(e["originator_id"])
                                + u64(e["originator_version"]) + u64(len(state)) + state).digest()
        h = hashlib.sha256(h + u64(e["position"]) + digest).digest()
        assert c["position"] == e["position"] and c["hash"] == h.hex(), f"line {{line}}"
        if "data" in e:
            assert e["data"] == json.loads(state), f"line {{line}}"

checkpoint = json.load(open("checkpoint.json"))
assert checkpoint["position"] == e["position"] and checkpoint["hash"] == h.hex()
fields = {{k: v for k, v in checkpoint.items() if k != "signature"}}
key = load_pem_public_key(open("KEY_YOU_TRUST.pem", "rb").read())
key.verify(base64.b64decode(checkpoint["signature"]),
           json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
```

(`verify_bundle.py` also checks that the two files have the same number of lines, that
positions increase, `recorded_at`, every file's SHA-256 against `manifest.json`, and that
the bundle holds no file the manifest does not list.)
"""


def render(figures: _Figures, checkpoint: dict[str, Any], asked: str) -> str:
    if checkpoint["signature"] is None:
        signed_line = (
            "**This bundle is unsigned**: it proves that its files agree with each other,"
            " not who exported them."
        )
    else:
        signed_line = (
            f"The checkpoint is signed with Ed25519 by key {checkpoint['key_fingerprint']}"
            f" (signed at {checkpoint['signed_at']})."
        )
    return TEMPLATE.format(
        events=figures.events,
        first=figures.first_position,
        last=figures.last_position,
        asked=asked,
        signed_line=signed_line,
        head=figures.head_hash.hex(),
        not_json=figures.not_json,
    )
