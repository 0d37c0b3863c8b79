"""Every label an area's templates and page code pass to `t(…)` has its Chinese."""

from __future__ import annotations

import re
from pathlib import Path

from api.console.i18n import catalogue

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
_LABEL = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def labels(area: str) -> set[str]:
    """The literal labels of `area`: its templates and its page module."""
    files = [*sorted((CONSOLE / "templates" / area).glob("*.html")), CONSOLE / f"{area}.py"]
    found: set[str] = set()
    for path in files:
        for match in _LABEL.finditer(path.read_text()):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    return found


def missing_labels(area: str) -> list[str]:
    translated = catalogue("zh-CN")
    return sorted(label for label in labels(area) if label not in translated)
