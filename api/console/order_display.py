"""How the order pages write values: money, times, durations, stages and SLA states.

Handed to the order pages' templates as `show`; read models give datetimes (PostgreSQL) or
ISO text (SQLite), decimals or decimal text, and each is written the same way here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.console.i18n import Translate

AT_RISK_WITHIN = timedelta(hours=24)  # as the API's SLA list: due within a day
NOTHING = "—"
LABELS = {"qc_passed": "QC passed", "wrong_items": "Wrong items"}  # where capitals matter


def moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found.astimezone(UTC)


class Show:
    """The value writers of one page, in the viewer's language, against one `now`."""

    def __init__(self, t: Translate, now: datetime) -> None:
        self.t = t
        self.now = now

    def money(self, amount: Any, currency: str | None = None) -> str:
        if amount is None:
            return NOTHING
        text = f"{Decimal(amount):,.2f}"
        return f"{text} {currency}" if currency else text

    def qty(self, value: Any) -> str:
        if value is None:
            return NOTHING
        return f"{Decimal(value).normalize():f}"

    def when(self, value: Any) -> str:
        found = moment(value)
        return NOTHING if found is None else found.strftime("%Y-%m-%d %H:%M UTC")

    def differs(self, one: Any, other: Any) -> bool:
        """Two moments more than a minute apart (business time keyed in after the fact)."""
        first, second = moment(one), moment(other)
        return bool(first and second and abs((first - second).total_seconds()) > 60)

    def day(self, value: Any) -> str:
        if value is None or value == "":
            return NOTHING
        if isinstance(value, datetime):
            return value.date().isoformat()
        return value.isoformat() if isinstance(value, date) else str(value)[:10]

    def duration(self, seconds: Any) -> str:
        """Days and hours, hours and minutes, or minutes."""
        total = max(0, int(Decimal(seconds or 0)))
        days, rest = divmod(total, 86_400)
        hours, minutes = rest // 3600, rest % 3600 // 60
        if days:
            return self.t("{days} d {hours} h", days=days, hours=hours)
        if hours:
            return self.t("{hours} h {minutes} min", hours=hours, minutes=minutes)
        return self.t("{minutes} min", minutes=minutes)

    def stage(self, key: str | None) -> str:
        """A stage or status key as a label (`awaiting_approval` → Awaiting approval)."""
        if not key:
            return NOTHING
        return self.t(LABELS.get(key) or key.replace("_", " ").capitalize())

    def step(self, kind: str) -> str:
        """A timeline event's kind as a label (`ApprovalGiven` → Approval given)."""
        if kind == "Recorded":
            return self.t("SLA breach recorded")
        words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower()
        return self.t(words.capitalize())

    def sla(self, row: dict[str, Any]) -> str | None:
        """`late` (past its stage's SLA), `at_risk` (due within a day) or None."""
        due = moment(row.get("sla_due_at"))
        if due is None:
            return None
        if row.get("sla_breached_at") is not None or due <= self.now:
            return "late"
        return "at_risk" if due <= self.now + AT_RISK_WITHIN else None

    def sla_label(self, state: str | None) -> str:
        return {"late": self.t("Late"), "at_risk": self.t("At risk")}.get(state or "", "")
