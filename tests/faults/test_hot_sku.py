"""Four processes of eight threads reserving one unit at a time of one SKU: exactly the stock
is reserved, every other attempt refused, and the read model agrees."""

from __future__ import annotations

import pytest

from api.settings import Settings
from bench.faults.hot_sku import REFUSED, RESERVED, reserve_hot_sku
from tests.faults.conftest import assert_held

pytestmark = [pytest.mark.faults, pytest.mark.slow]
ATTEMPTS = 800


def test_a_hot_sku_is_never_oversold(settings: Settings, store_kind: str) -> None:
    result = reserve_hot_sku(settings, store_kind, ATTEMPTS)

    assert_held(result)
    assert result.oversold == 0
    assert result.counts[RESERVED] == ATTEMPTS // 4
    assert result.counts[RESERVED] + result.counts[REFUSED] == ATTEMPTS
