"""The audit bundle on real SQLite and PostgreSQL: exported from a real history it verifies
in process and with its own standalone script; every corruption is found where it is; the
live log is held to it as a prefix."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from api.runtime import Runtime
from domain.cipher import opened, state_opener
from domain.exceptions import InvalidInput, Unavailable
from domain.ledger import Ledger
from replay import bundle_verify, checkpoints
from replay.bundle_live import check_against_log
from replay.bundle_verify import Finding, verify_bundle
from replay.chain_follower import ChainProjection
from replay.export import Exported, export_bundle
from replay.moments import at_position
from tests.conftest import command_meta as meta
from tests.integration import tampering
from tests.integration.helpers import busy_day

KEYS = checkpoints.new_key_pair()


def export(runtime: Runtime, out: Path, position: int | None = None, **options: object) -> Exported:
    runtime.runner.catch_up(ChainProjection.name)
    moment = at_position(runtime.ledger, position or runtime.ledger.head())
    return export_bundle(runtime.ledger, runtime.store, out, moment, **options)  # type: ignore[arg-type]


def standalone(bundle: Path, *args: str) -> tuple[int, str]:
    """The bundle's own verify_bundle.py, run by a plain interpreter from elsewhere."""
    done = subprocess.run(
        [sys.executable, "-I", str(bundle / "verify_bundle.py"), str(bundle), *args],
        capture_output=True, text=True, cwd=bundle.parent, timeout=60,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).strip()


def finding(bundle: Path, key: bytes | None = None) -> str:
    with pytest.raises(Finding) as raised:
        verify_bundle(bundle, key)
    return raised.value.line()


@pytest.fixture
def signed(ledger: Ledger, runtime: Runtime, tmp_path: Path) -> Path:
    """A signed bundle of a busy day's history."""
    busy_day(ledger)
    export(runtime, tmp_path / "bundle", key=checkpoints.load_private_key(KEYS[0]))
    return tmp_path / "bundle"


def test_a_real_history_exports_and_verifies_in_process_and_standalone(
    signed: Path, runtime: Runtime
) -> None:
    head = runtime.ledger.head()
    result = verify_bundle(signed)
    assert (result.events, result.last_position) == (head, head)
    code, output = standalone(signed)
    assert code == 0, output
    assert output == f"OK: {result.line()}"
    assert "checkpoint signed by key sha256:" in output
    # The checkpoint is OrderLedger's own checkpoint format, signed by the given key.
    checkpoint = checkpoints.parse((signed / "checkpoint.json").read_bytes())
    checkpoints.check_signature(checkpoint, checkpoints.load_public_key(KEYS[1]))
    assert checkpoint.hash == result.head_hash


def test_every_event_line_carries_its_stored_bytes_and_readable_data(
    signed: Path, runtime: Runtime
) -> None:
    # The stored bytes with the event store's cipher, if on, taken off (as the chain links them).
    stored = opened(
        runtime.ledger.recorder.select_notifications(start=1, limit=10_000),
        state_opener(runtime.ledger),
    )
    lines = [json.loads(line) for line in (signed / "events.jsonl").read_bytes().splitlines()]
    assert [line["position"] for line in lines] == [n.id for n in stored]
    for line, n in zip(lines, stored, strict=True):
        assert base64.b64decode(line["state_base64"]) == n.state
        assert line["data"] == json.loads(n.state)
        assert line["recorded_at"] == line["data"]["timestamp"]["_data_"]
        assert (line["topic"], line["originator_version"]) == (n.topic, n.originator_version)


def test_a_zip_bundle_verifies_the_same(ledger: Ledger, runtime: Runtime, tmp_path: Path) -> None:
    busy_day(ledger)
    done = export(runtime, tmp_path / "bundle.zip", fmt="zip")
    assert verify_bundle(done.path).key_fingerprint is None  # unsigned: says so
    code, output = subprocess_zip(done.path, tmp_path)
    assert code == 0, output
    assert "UNSIGNED" in output


def subprocess_zip(bundle: Path, tmp_path: Path) -> tuple[int, str]:
    import zipfile

    script = tmp_path / "verify_bundle.py"
    script.write_bytes(zipfile.ZipFile(bundle).read("verify_bundle.py"))
    done = subprocess.run([sys.executable, "-I", str(script), str(bundle)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done.returncode, done.stdout.strip()


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(bundle_verify.__file__).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


# -- corruptions -----------------------------------------------------------------------------


def lines(bundle: Path, name: str) -> list[bytes]:
    return (bundle / name).read_bytes().splitlines(keepends=True)


def rewrite(bundle: Path, name: str, edit: Callable[[list[bytes]], list[bytes]]) -> None:
    (bundle / name).write_bytes(b"".join(edit(lines(bundle, name))))


def position(bundle: Path, line: int) -> int:
    value: int = json.loads(lines(bundle, "events.jsonl")[line - 1])["position"]
    return value


def edited_event(raw: bytes) -> bytes:
    """The event's actor changed, in its stored state and its readable data alike."""
    event = json.loads(raw)
    event["data"]["meta"]["actor"] = "someone-else"
    state = json.dumps(event["data"], separators=(",", ":")).encode()
    event["state_base64"] = base64.b64encode(state).decode()
    return json.dumps(event).encode() + b"\n"


def other_time(raw: bytes) -> bytes:
    """The same line but for `recorded_at`, laid out as exported."""
    return raw.replace(b'"recorded_at":"', b'"recorded_at":"1999', 1)


def other_data(raw: bytes) -> bytes:
    """`data` with one more field: the stored state and the chain are untouched."""
    return raw[:-3] + b',"extra":1}}\n'


def edited_link(raw: bytes) -> bytes:
    link = json.loads(raw)
    link["hash"] = ("0" if link["hash"][0] != "0" else "1") + link["hash"][1:]
    return json.dumps(link).encode() + b"\n"


def swapped(items: list[bytes], at: int) -> list[bytes]:
    items[at], items[at + 1] = items[at + 1], items[at]
    return items


def edit_checkpoint(bundle: Path, **fields: object) -> None:
    body = json.loads((bundle / "checkpoint.json").read_text())
    body.update(fields)
    body = {k: v for k, v in body.items() if v != "drop"}
    (bundle / "checkpoint.json").write_text(json.dumps(body))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "an edited event line": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: [*ls[:3], edited_event(ls[3]), *ls[4:]]),
        "changed at position {4}: events.jsonl line 4 does not give chain.jsonl's hash",
    ),
    "readable data that no longer says what the state says": (
        lambda b: rewrite(
            b,
            "events.jsonl",
            lambda ls: [
                *ls[:2],
                ls[2].replace(b'"meta":{"actor":"tester"', b'"meta":{"actor":"nobody"'),
                *ls[3:],
            ],
        ),
        "changed at position {3}: events.jsonl line 3: data differs from the hashed state",
    ),
    "a recorded_at that is not the state's": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: [*ls[:2], other_time(ls[2]), *ls[3:]]),
        "changed at position {3}: events.jsonl line 3: recorded_at differs from the hashed"
        " state's timestamp",
    ),
    "data that is not the state's bytes, nor its JSON": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: [*ls[:4], other_data(ls[4]), *ls[5:]]),
        "changed at position {5}: events.jsonl line 5: data differs from the hashed state",
    ),
    "a removed event line": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: ls[:4] + ls[5:]),
        "misplaced at position {5}: chain.jsonl line 5 links position {5}, events.jsonl line 5"
        " holds position {6}",
    ),
    "a line removed from both files": (
        lambda b: [
            rewrite(b, name, lambda ls: ls[:4] + ls[5:]) for name in ("events.jsonl", "chain.jsonl")
        ],
        "changed at position {6}: events.jsonl line 5 does not give chain.jsonl's hash",
    ),
    "swapped event lines": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: swapped(ls, 6)),
        "misplaced at position {7}: chain.jsonl line 7 links position {7}",
    ),
    "a changed chain hash": (
        lambda b: rewrite(b, "chain.jsonl", lambda ls: [*ls[:7], edited_link(ls[7]), *ls[8:]]),
        "chain-altered at position {8}: chain.jsonl line 8 is not the hash of its event",
    ),
    "a tampered manifest": (
        lambda b: (b / "manifest.json").write_text(
            (b / "manifest.json").read_text().replace('"events": ', '"events": 1')
        ),
        "manifest: manifest.json says events",
    ),
    "an edited README": (
        lambda b: (b / "README.md").write_text("# nothing to see\n"),
        "manifest: the SHA-256 of README.md is",
    ),
    "a file the manifest does not list": (
        lambda b: (b / "notes.txt").write_text("x"),
        "manifest: notes.txt is in the bundle but not in manifest.json",
    ),
    "an events file cut mid-line": (
        lambda b: (b / "events.jsonl").write_bytes((b / "events.jsonl").read_bytes()[:-30]),
        "truncated: events.jsonl line {last} has no line end",
    ),
    "both files cut at a line end": (
        lambda b: [
            rewrite(b, name, lambda ls: ls[:-2]) for name in ("events.jsonl", "chain.jsonl")
        ],
        "truncated at position {last-2}: the events end at position {last-2}, the checkpoint is at",
    ),
    "malformed JSON": (
        lambda b: rewrite(b, "events.jsonl", lambda ls: [*ls[:1], b'{"position": 2,\n', *ls[2:]]),
        "malformed: events.jsonl line 2: not JSON",
    ),
    "a checkpoint missing fields": (
        lambda b: edit_checkpoint(b, hash="drop"),
        "malformed: checkpoint.json: missing hash",
    ),
    "an altered checkpoint": (
        lambda b: edit_checkpoint(b, recorded_at="2020-01-01T00:00:00+00:00"),
        "signature: checkpoint.json's signature does not verify",
    ),
    "a public key swapped for another keypair's": (
        lambda b: (b / "public_key.pem").write_bytes(checkpoints.new_key_pair()[1]),
        "signature: checkpoint.json names key sha256:",
    ),
    "a garbage public key": (
        lambda b: (b / "public_key.pem").write_bytes(b"-----BEGIN PUBLIC KEY-----\nnope\n"),
        "key: not a PEM public key",
    ),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_each_corruption_is_found_where_it_is_by_both_verifiers(
    signed: Path, corruption: str
) -> None:
    count = len(lines(signed, "events.jsonl"))
    places = {"{last}": count, "{last-2}": position(signed, count - 2)}
    places |= {f"{{{n}}}": position(signed, n) for n in range(1, 9)}
    corrupt, expected = CORRUPTIONS[corruption]
    for placeholder, value in places.items():
        expected = expected.replace(placeholder, str(value))
    corrupt(signed)
    found = finding(signed)
    assert found.startswith(expected), found
    code, output = standalone(signed)
    assert (code, output) == (1, f"FAIL: {found}")


def test_every_line_as_exported_takes_the_verifier_s_quick_path(
    signed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exporter's layout and the verifier's quick path are one format: were they to
    drift apart, bundles would still verify, only several times slower."""

    def full_step(*args: object) -> None:
        raise AssertionError(f"line {args[-1]} left the quick path")

    monkeypatch.setattr(bundle_verify, "_full_step", full_step)
    assert verify_bundle(signed).events == len(lines(signed, "events.jsonl"))


def test_lines_laid_out_otherwise_but_saying_the_same_verify(signed: Path) -> None:
    """The verifier's quick path takes lines as exported; any other layout is parsed in full
    and holds if it says the same (only the manifest's hash of the file must follow it)."""
    relaid = [json.dumps(json.loads(line), indent=None).encode() + b"\n"
              for line in lines(signed, "events.jsonl")]  # fmt: skip
    assert relaid != lines(signed, "events.jsonl")
    (signed / "events.jsonl").write_bytes(b"".join(relaid))
    manifest = json.loads((signed / "manifest.json").read_bytes())
    manifest["files"]["events.jsonl"]["sha256"] = hashlib.sha256(b"".join(relaid)).hexdigest()
    (signed / "manifest.json").write_text(json.dumps(manifest))
    assert verify_bundle(signed).events == len(relaid)
    assert standalone(signed)[0] == 0


def test_a_foreign_key_or_an_unsigned_bundle_is_refused_when_a_key_is_given(
    signed: Path, ledger: Ledger, runtime: Runtime, tmp_path: Path
) -> None:
    other = checkpoints.new_key_pair()[1]
    assert finding(signed, other).startswith("signature: checkpoint.json names key")
    assert finding(signed, b"garbage").startswith("key: not a PEM public key")
    unsigned = export(runtime, tmp_path / "unsigned")
    assert finding(unsigned.path, KEYS[1]).startswith("unsigned: the bundle is unsigned")


# -- the live log --------------------------------------------------------------------------


def test_a_bundle_stays_a_prefix_of_a_log_that_grew(
    signed: Path, ledger: Ledger, runtime: Runtime
) -> None:
    exported = verify_bundle(signed).last_position
    ledger.register_warehouse(meta(), code_="W9", name="Later")
    assert runtime.ledger.head() > exported
    assert check_against_log(runtime.ledger, signed, exported) == exported


@pytest.mark.parametrize(
    ("tamper", "kind"),
    [(tampering.change_state, "changed"), (tampering.delete, "removed")],
)
def test_tampering_in_the_live_log_after_an_export_is_found_at_its_position(
    signed: Path, runtime: Runtime, tamper: Callable[..., None], kind: str
) -> None:
    exported = verify_bundle(signed).last_position
    target = position(signed, 5)
    tamper(runtime.settings, target)
    with pytest.raises(Finding) as raised:
        check_against_log(runtime.ledger, signed, exported)
    assert raised.value.line().startswith(f"{kind} at position {target}:")


# -- refusals ------------------------------------------------------------------------------


def test_a_tampered_log_is_not_exported_and_nothing_is_written(
    ledger: Ledger, runtime: Runtime, tmp_path: Path
) -> None:
    busy_day(ledger)
    runtime.runner.catch_up(ChainProjection.name)
    tampering.change_state(runtime.settings, 3)
    out = tmp_path / "out" / "bundle"
    out.parent.mkdir()
    with pytest.raises(InvalidInput, match="not exported: changed at position 3"):
        export(runtime, out)
    assert list(out.parent.iterdir()) == []


def test_an_existing_bundle_is_never_overwritten(
    signed: Path, runtime: Runtime, tmp_path: Path
) -> None:
    before = (signed / "events.jsonl").read_bytes()
    with pytest.raises(InvalidInput, match="already exists and is not empty"):
        export(runtime, signed)
    assert (signed / "events.jsonl").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(runtime, empty).events == runtime.ledger.head()


def test_a_chain_not_yet_linked_that_far_is_refused(
    ledger: Ledger, runtime: Runtime, tmp_path: Path
) -> None:
    moment = at_position(runtime.ledger, runtime.ledger.head())
    with pytest.raises(Unavailable, match="the chain is linked up to position 0"):
        export_bundle(runtime.ledger, runtime.store, tmp_path / "b", moment)
    assert not (tmp_path / "b").exists()
