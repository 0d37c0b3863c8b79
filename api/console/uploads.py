"""The import page: a spreadsheet of customers, products, opening stock or open orders,
uploaded to the API's own `POST /imports/{kind}` with the session's CSRF token.

The page shows each kind's columns (the layouts in domain/import_layouts.py, which
docs/imports.md prints too) and an example file; the API's answer — the validation report
naming every bad row and why, or what was created and what was already there — is drawn
on the page by console.js from the `api:done` / `api:refused` events.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.console.web import PageRefused, Viewer, page, render
from api.deps import RuntimeDep
from domain.import_layouts import KINDS, LAYOUTS

router = APIRouter(prefix="/console", include_in_schema=False)

KIND_LABELS = {
    "customers": "Customers", "products": "Products", "stock": "Opening stock",
    "orders": "Open orders",
}  # fmt: skip
# One plausible record per kind (two rows for an order of two lines), every column filled.
EXAMPLES: dict[str, list[dict[str, str]]] = {
    "customers": [{
        "code": "C-100", "name": "Acme GmbH", "region": "north", "currency": "EUR",
        "billing_address": "Acme GmbH, 1 Main Street, Berlin",
        "shipping_address": "Acme GmbH, goods in, Berlin", "payment_terms_days": "30",
        "credit_limit": "50000", "contact_name": "Purchasing",
        "contact_email": "orders@acme.example", "contact_phone": "+49 30 1234567",
    }],
    "products": [{
        "sku": "P-100", "name": "Widget", "unit": "pcs", "make_or_buy": "buy",
        "list_price": "12.50", "standard_cost": "7.10", "currency": "EUR", "standard": "true",
    }],
    "stock": [{
        "sku": "P-100", "warehouse": "WH-BER", "quantity": "40", "reference": "OPENING-2026",
        "effective_date": "2026-01-01",
    }],
    "orders": [
        {"order_number": "SO-100", "customer": "C-100", "warehouse": "WH-BER",
         "currency": "EUR", "salesperson": "sales.maria", "sku": "P-100", "quantity": "3",
         "unit_price": "12.50", "discount": "", "region": "north",
         "requested_delivery": "2026-02-01", "promised_date": "2026-02-03",
         "packaging": "export pallets", "carrier": "DHL", "notes": ""},
        {"order_number": "SO-100", "customer": "C-100", "warehouse": "WH-BER",
         "currency": "EUR", "salesperson": "sales.maria", "sku": "P-101", "quantity": "1",
         "unit_price": "30.00", "discount": "0.05", "region": "north",
         "requested_delivery": "2026-02-01", "promised_date": "2026-02-03",
         "packaging": "export pallets", "carrier": "DHL", "notes": ""},
    ],
}  # fmt: skip
# What the report drawn in the browser says, in the page's language.
REPORT_LABELS = {
    "applied": "Imported",
    "refused": "Nothing was imported: correct the bad rows, or tick “Skip bad rows” to import"
    " the good ones.",
    "rows": "Rows read", "created": "Created", "unchanged": "Unchanged (already there)",
    "bad_rows": "Bad rows", "row": "Row", "errors": "Why", "skipped": "Skipped rows",
}  # fmt: skip


def _kind(viewer: Viewer, kind: str) -> str:
    if kind not in KINDS:
        raise PageRefused(404, viewer.t("Not found"),
                          viewer.t("There is no import of {kind}.", kind=kind))  # fmt: skip
    return kind


@router.get("/import")
def import_page(
    rt: RuntimeDep,
    viewer: Annotated[Viewer, page("imports:write")],
    kind: Annotated[str, Query(max_length=32)] = "customers",
) -> Response:
    """Choose a kind, upload its CSV or XLSX file, and read the API's report."""
    kind = _kind(viewer, kind)
    kinds = [{"kind": k, "label": viewer.t(KIND_LABELS[k]), "current": k == kind} for k in KINDS]
    columns = [{"name": c.name, "required": c.required, "holds": viewer.t(c.holds)}
               for c in LAYOUTS[kind]]  # fmt: skip
    labels = {key: viewer.t(text) for key, text in REPORT_LABELS.items()}
    return render(viewer, "import/upload.html", kind=kind, kind_label=viewer.t(KIND_LABELS[kind]),
                  kinds=kinds, columns=columns, labels=labels,
                  max_mb=rt.settings.import_max_bytes // 1_000_000)  # fmt: skip


@router.get("/import/{kind}/example.csv")
def import_example(kind: str, viewer: Annotated[Viewer, page("imports:write")]) -> Response:
    """An example file of `kind`: every column of its layout, with a plausible record."""
    kind = _kind(viewer, kind)
    names = [column.name for column in LAYOUTS[kind]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for example in EXAMPLES[kind]:
        writer.writerow([example.get(name, "") for name in names])
    attachment = {"Content-Disposition": f'attachment; filename="{kind}-example.csv"'}
    return Response(out.getvalue().encode(), media_type="text/csv; charset=utf-8",
                    headers=attachment)  # fmt: skip
