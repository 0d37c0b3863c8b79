"""The console's two languages: English, and Chinese (zh-CN) from JSON catalogues.

Templates and page code write English and wrap each label in `t("…")`; a catalogue file per
console area (`locale/zh-CN/<area>.json`, English → Chinese) holds the translations. A test
fails any label used in a template that a catalogue lacks, so nothing half-translated ships.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Protocol

import orjson
from starlette.requests import Request

LANGUAGES = {"en": "English", "zh-CN": "中文"}
DEFAULT = "en"
COOKIE = "orderledger_lang"


class Translate(Protocol):
    def __call__(self, text: str, /, **values: object) -> str: ...


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """Every English label → its translation in `language` (empty for English)."""
    if language == DEFAULT:
        return {}
    merged: dict[str, str] = {}
    folder = resources.files("api.console").joinpath("locale", language)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            merged.update(orjson.loads(entry.read_bytes()))
    return merged


def translator(language: str) -> Translate:
    """`t("Orders")` in `language`; `t("{n} late", n=3)` fills values after translating."""
    table = catalogue(language)

    def t(text: str, /, **values: object) -> str:
        translated = table.get(text, text)
        return translated.format(**values) if values else translated

    return t


def language_of(request: Request) -> str:
    """`?lang=` first, then the language cookie, then the browser's Accept-Language."""
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGUAGES:
        return asked
    accepted = request.headers.get("accept-language", "").lower()
    return "zh-CN" if accepted.startswith("zh") else DEFAULT
