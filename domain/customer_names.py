"""Who paid: a payer's name on a bank statement identified as one of our customers.

Names are normalised first (`normalise_name`, which also sorts the words), then compared
with rapidfuzz's `fuzz.token_sort_ratio` (0–100; computed as `fuzz.ratio` of the sorted
names, which is the same score). That scorer ignores word order ("GmbH Acme" = "Acme GmbH")
and, unlike `WRatio` or the partial/set ratios, gives no credit for one name merely being
part of another: "acme" scores 47 against "Acme Holdings" (WRatio: 90), so a short payer
name never lands on a longer, different company.

A payer is identified when the best customer scores at least the threshold and no other
customer scores as well (two customers with the same best score, or with the same
normalised name, identify nobody). Lookups are cached per normalised payer name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from domain.exceptions import InvalidInput

# Legal-form words dropped before comparing (after dots are removed: "S.A." → "sa").
LEGAL_FORMS = frozenset({
    "gmbh", "ltd", "limited", "inc", "incorporated", "llc", "llp", "ag", "sa", "sarl", "sas",
    "bv", "nv", "co", "corp", "corporation", "company", "plc", "kg", "kgaa", "ug", "srl", "spa",
    "oy", "oyj", "pty", "kft", "zrt", "as", "asa", "ab", "aps", "sro", "ohg", "se", "bvba",
})  # fmt: skip
_SEPARATORS = re.compile(r"[\W_]+")


def normalise_name(name: str) -> str:
    """Casefolded, accents stripped, dots removed, other punctuation as spaces, legal-form
    words dropped, the words sorted: "Müller & Söhne GmbH." → "muller sohne"."""
    plain = name.casefold()
    if not plain.isascii():
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = [w for w in _SEPARATORS.split(plain.replace(".", "")) if w and w not in LEGAL_FORMS]
    return " ".join(sorted(words))


@dataclass(frozen=True)
class Identified:
    """The outcome of identifying one payer: a customer (code, name, score), or why not."""

    payer: str
    code: str | None
    name: str
    score: float
    reason: str = ""

    def explain(self) -> str:
        if self.code is None:
            return self.reason
        return f"payer '{self.payer}' ≈ customer '{self.name}' (score {int(self.score)})"


@dataclass(frozen=True)
class _Found:
    code: str | None
    name: str
    score: float
    why: str = ""  # a template with {payer} when nobody was identified


class CustomerIndex:
    """Customers' normalised names, ready to compare payers' names with."""

    def __init__(self, customers: Iterable[tuple[str, str]]) -> None:
        listed = sorted(customers)
        if len({code for code, _ in listed}) != len(listed):
            raise InvalidInput("each customer is listed once: a customer code is repeated")
        self.by_key: dict[str, list[tuple[str, str]]] = {}
        for code, name in listed:
            key = normalise_name(name)
            if key:
                self.by_key.setdefault(key, []).append((code, name))
        self.keys = sorted(self.by_key)
        self._cache: dict[tuple[str, int], _Found] = {}
        self._keys: dict[str, str] = {}  # payer's name as written → normalised
        self._lengths: dict[tuple[int, float], list[str]] = {}

    def identify(self, payer: str, threshold: int) -> Identified:
        """The one customer the payer's name matches at `threshold` or better, if any."""
        key = self._keys.get(payer)
        if key is None:
            key = self._keys[payer] = normalise_name(payer)
        found = self._cache.get((key, threshold))
        if found is None:
            found = self._cache[(key, threshold)] = self._identify(key, threshold)
        return Identified(payer, found.code, found.name, found.score, found.why.format(payer=payer))

    def _identify(self, key: str, threshold: int) -> _Found:
        if not key:
            return _Found(None, "", 0.0, "payer '{payer}' has no name left once legal forms"
                          " and punctuation are removed")  # fmt: skip
        best = self._best(key, 2, threshold)
        if not best:
            return _Found(None, "", 0.0, "payer '{payer}' is not close enough to any customer"
                          f" (none scores {threshold} or more)")  # fmt: skip
        score, rivals = best[0][1], self.by_key[best[0][0]]
        tied = list(rivals)
        if len(best) > 1 and best[1][1] == score:
            tied += self.by_key[best[1][0]]
        if len(tied) > 1:
            names = " and ".join(_quote(name) for _, name in tied[:2])
            return _Found(None, "", score, "payer '{payer}' matches customers"
                          f" {names} equally (score {int(score)}): not identified")  # fmt: skip
        code, name = rivals[0]
        return _Found(code, name, score)

    def near(self, payer: str, limit: int, floor: int) -> list[Identified]:
        """Up to `limit` customers whose names score at least `floor`, best first."""
        key = normalise_name(payer)
        if not key:
            return []
        found: list[Identified] = []
        for name_key, score in self._best(key, limit, floor):
            for code, name in self.by_key[name_key]:
                found.append(Identified(payer, code, name, score))
        return found[:limit]

    def _best(self, key: str, limit: int, floor: float = 0) -> list[tuple[str, float]]:
        exact = self.by_key.get(key)
        if exact is not None and limit <= 2:
            # Only an identical normalised name scores 100: no other key can tie with it.
            return [(key, 100.0)]
        # fuzz.ratio on names whose words are already sorted is token_sort_ratio, without
        # splitting and sorting every customer's name again for every payer.
        hits = process.extract(
            key, self._candidates(len(key), floor), scorer=fuzz.ratio, processor=None,
            limit=limit, score_cutoff=floor,
        )  # fmt: skip
        return sorted(((hit[0], float(hit[1])) for hit in hits), key=lambda h: (-h[1], h[0]))

    def _candidates(self, length: int, floor: float) -> list[str]:
        """The names whose length lets them score `floor` against a name of `length`: the
        score is at most 200·shorter / (both lengths), so the rest need no comparing."""
        found = self._lengths.get((length, floor))
        if found is None:
            low = length * floor / (200 - floor) - 1e-9 if floor < 200 else 0
            high = length * (200 - floor) / floor + 1e-9 if floor > 0 else float("inf")
            found = self._lengths[(length, floor)] = [k for k in self.keys if low <= len(k) <= high]
        return found


def _quote(name: str) -> str:
    return "'" + name.replace("{", "{{").replace("}", "}}") + "'"
