"""Read a console page's tables and figures back: rows with their attributes and cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)
    section: str = "tbody"

    def value(self, name: str) -> str:
        """The `data-value` (the API's own text) of the cell whose `data-field` is `name`."""
        for cell in self.cells:
            if cell.attrs.get("data-field") == name:
                return cell.attrs.get("data-value", cell.text)
        raise KeyError(name)

    def texts(self) -> list[str]:
        return [cell.text for cell in self.cells]


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[Row]] = {}
        self.figures: list[dict[str, str]] = []
        self._table: list[Row] | None = None
        self._section = "tbody"
        self._cell: Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "table":
            self._table = self.tables.setdefault(found.get("id", str(len(self.tables))), [])
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr" and self._table is not None:
            self._table.append(Row(found, section=self._section))
        elif tag in ("td", "th") and self._table:
            self._cell = Cell(found)
            self._table[-1].cells.append(self._cell)
        elif tag == "div" and "data-figure" in found:
            self.figures.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text += data


def tables(html: str) -> dict[str, list[Row]]:
    """Every table by its id: its rows (header, body and footer) in order."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def body(html: str, table: str) -> list[Row]:
    return [row for row in tables(html)[table] if row.section == "tbody"]


def foot(html: str, table: str) -> list[Row]:
    return [row for row in tables(html)[table] if row.section == "tfoot"]


def figures(html: str) -> list[dict[str, str]]:
    """The headline figures: each `div[data-figure]` with its attributes."""
    parser = _Tables()
    parser.feed(html)
    return parser.figures
