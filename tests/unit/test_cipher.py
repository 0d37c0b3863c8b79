"""The event store's cipher and its settings, without a database: the library's stored form,
old keys that still decrypt, damage refused, and keys checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.utils import Environment
from pydantic import ValidationError

from api.settings import Settings
from domain.cipher import TOPIC, BadKey, LedgerCipher, new_key, parse_key

STATE = b'{"name":"Zebulon","sku":"SKU-1"}'


def cipher(*keys: str) -> LedgerCipher:
    env = {"CIPHER_KEY": keys[0], "CIPHER_OLD_KEYS": ",".join(keys[1:])}
    return LedgerCipher(Environment("", env))


def test_states_are_stored_as_the_librarys_aes_cipher_stores_them() -> None:
    key = new_key()
    library = AESCipher(Environment("", {"CIPHER_KEY": key}))
    ours = cipher(key)
    assert library.decrypt(ours.encrypt(STATE)) == STATE
    assert ours.decrypt(library.encrypt(STATE)) == STATE
    assert ours.encrypt(STATE) != ours.encrypt(STATE)  # a fresh nonce every time
    assert len(ours.encrypt(STATE)) == 12 + 16 + len(STATE)


def test_old_keys_decrypt_and_only_the_current_one_encrypts() -> None:
    old, older, current = new_key(16), new_key(24), new_key()
    written = {key: cipher(key).encrypt(STATE) for key in (old, older, current)}
    rotating = cipher(current, old, older)
    assert [rotating.open_with(written[k]) for k in (current, old, older)] == [
        (0, STATE), (1, STATE), (2, STATE),
    ]  # fmt: skip
    assert cipher(current).open_with(rotating.encrypt(STATE)) == (0, STATE)
    with pytest.raises(ValueError, match="does not decrypt under the current key or any old"):
        cipher(current).decrypt(written[old])


@pytest.mark.parametrize("damage", [lambda s: s[:-1] + bytes([s[-1] ^ 1]), lambda s: s[:20]])
def test_a_damaged_state_does_not_decrypt(damage: object) -> None:
    key = new_key()
    with pytest.raises(ValueError, match="does not decrypt"):
        cipher(key).decrypt(damage(cipher(key).encrypt(STATE)))  # type: ignore[operator]


def test_keys_are_base64_of_an_aes_key_size() -> None:
    assert len(parse_key(new_key(24))) == 24
    with pytest.raises(BadKey, match="is not base64"):
        parse_key("no-key")
    with pytest.raises(BadKey, match="is 6 bytes; AES keys are 16, 24 or 32 bytes"):
        parse_key("c2l4Ynl0")


def test_the_settings_give_the_event_store_the_cipher_and_every_key(tmp_path: Path) -> None:
    current, old, older = new_key(), new_key(), new_key()
    olds = tmp_path / "old.keys"
    olds.write_text(f"# retired 2025\n{old}\n\n{older}\n")
    olds.chmod(0o600)
    made = Settings(cipher_key=current, cipher_old_keys_file=olds)  # type: ignore[arg-type]
    env = made.eventsourcing_env()
    assert (env["CIPHER_TOPIC"], env["CIPHER_KEY"]) == (TOPIC, current)
    assert env["CIPHER_OLD_KEYS"] == f"{old},{older}"
    assert "CIPHER_TOPIC" not in Settings().eventsourcing_env()
    assert Settings(cipher_key="", cipher_key_file="").cipher_keys() is None  # type: ignore[arg-type]
    assert current not in repr(made)


def test_a_key_file_holding_two_keys_or_both_kinds_of_setting_are_refused(
    tmp_path: Path,
) -> None:
    two = tmp_path / "two.key"
    two.write_text(f"{new_key()}\n{new_key()}\n")
    two.chmod(0o600)
    with pytest.raises(ValidationError, match="ORDERLEDGER_CIPHER_KEY_FILE holds more than one"):
        Settings(cipher_key_file=two)
    with pytest.raises(ValidationError, match="set ORDERLEDGER_CIPHER_KEY or ORDERLEDGER_CIP"):
        Settings(cipher_key=new_key(), cipher_key_file=two)  # type: ignore[arg-type]
    key = new_key()
    with pytest.raises(
        ValidationError, match="old key 2 of ORDERLEDGER_CIPHER_OLD_KEYS is 3 b"
    ) as e:
        Settings(cipher_key=key, cipher_old_keys=f"{new_key()}, oops")  # type: ignore[arg-type]
    assert key[:6] not in str(e.value)  # an error never echoes a key
