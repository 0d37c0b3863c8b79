"""Every label the console shows has its Chinese translation, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from api.console.i18n import catalogue, translator
from api.console.web import SECTIONS

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
# t("…") or t('…') in templates and page code (viewer.t(…) included).
LABEL = re.compile(r"""\bt\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def labels_used() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        if path.name == "i18n.py":  # the mechanism itself (its docstring shows examples)
            continue
        for match in LABEL.finditer(path.read_text()):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.setdefault(text, set()).add(str(path.relative_to(CONSOLE)))
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_label_in_a_template_or_page_has_a_chinese_translation() -> None:
    used = labels_used()
    assert len(used) > 10  # the scan finds the labels
    for _, label, _, _ in SECTIONS:  # translated through a variable, not a literal
        used.setdefault(label, {"web.py"})
    missing = {
        text: sorted(where) for text, where in used.items() if text not in catalogue("zh-CN")
    }
    assert missing == {}


def test_translations_keep_the_placeholders_of_their_english_label() -> None:
    different = {
        text: translated
        for text, translated in catalogue("zh-CN").items()
        if _fields(text) != _fields(translated)
    }
    assert different == {}


def test_a_label_fills_its_values_after_translating() -> None:
    t = translator("zh-CN")
    assert (
        t("Signed in as {name} ({role})", name="ann", role="manager") == "当前用户 ann（manager）"
    )
    assert translator("en")("Signed in as {name} ({role})", name="ann", role="x") == (
        "Signed in as ann (x)"
    )
    assert t("a label no catalogue has") == "a label no catalogue has"
