"""Who may do what: permissions, and the roles that hold them. Data, not code paths.

Every HTTP route declares exactly one permission (api/auth.py `allow`); a request is let
through when the caller's role holds it. docs/security.md prints this matrix, and a test
keeps the two equal. Field-level permissions (`fields:*`) do not guard routes: they
decide what a response may show (standard cost, margin, internal notes).
"""

from __future__ import annotations

from types import MappingProxyType

from domain.workflows import ROLES

PUBLIC = "public"  # no credential needed: liveness and the API's own description
SIGNED_IN = "signed-in"  # any authenticated caller (who am I, sign out, own password)

PERMISSIONS: MappingProxyType[str, str] = MappingProxyType(
    {
        "catalog:read": "products and warehouses",
        "catalog:write": "register and reprice products, register warehouses",
        "customers:read": "customer accounts",
        "customers:write": "register, block and flag customers",
        "orders:read": "sales orders, their timelines and live streams",
        "orders:write": "take, amend, submit, move and cancel sales orders",
        "orders:approve": "approve or reject the approval level waiting on the caller's role",
        "orders:transition": "move an order by hand to a stage its workflow lets the role",
        "orders:ship": "ship sales orders and confirm deliveries",
        "stock:read": "stock items, inventory, movements, safety alerts, requisitions",
        "stock:write": "counts, transfers, reservations, issues and receipts of stock",
        "purchasing:read": "purchase orders",
        "purchasing:write": "create, approve and cancel purchase orders",
        "purchasing:receive": "receive goods against purchase orders",
        "production:read": "production orders",
        "production:write": "create, run, inspect and receive production orders",
        "process:read": "workflows, approval policy, SLA status",
        "process:write": "publish workflows and approval policies, run the SLA scan",
        "finance:read": "invoices, receivables, payments, statements, ageing, credit",
        "finance:write": "invoice, record and allocate payments, import statements, "
        "credit notes, write-off requests, matching rules",
        "finance:approve": "credit holds, releases and limits; write-off decisions",
        "kpis:read": "KPI figures by period and dimension, and the orders behind each",
        "notifications:read": "the notification outbox",
        "notifications:write": "retry a failed notification",
        "audit:read": "hash chain, verification, replay as of, trail, explain, diff",
        "audit:export": "the audit bundle: every event whole, costs and notes included",
        "imports:write": "import customers, products, opening stock and open orders from files",
        "users:admin": "create users, change roles, issue and revoke keys",
        "fields:cost": "see standard cost and margin",
        "fields:internal": "see internal notes",
    }
)

_READ = frozenset(p for p in PERMISSIONS if p.endswith(":read") and p != "audit:read")
_EVERYTHING = frozenset(PERMISSIONS)
_SALES = frozenset({
    "catalog:read", "customers:read", "customers:write", "orders:read", "orders:write",
    "orders:transition", "stock:read", "process:read", "production:read", "notifications:read",
})  # fmt: skip
_WAREHOUSE = frozenset({
    "catalog:read", "orders:read", "orders:ship", "orders:transition", "stock:read",
    "stock:write", "purchasing:read", "purchasing:receive", "production:read",
})  # fmt: skip
_PRODUCTION = frozenset({
    "catalog:read", "orders:read", "orders:transition", "stock:read", "production:read",
    "production:write", "process:read",
})  # fmt: skip
_FINANCE = frozenset({
    "catalog:read", "customers:read", "orders:read", "orders:approve", "orders:transition",
    "stock:read", "purchasing:read", "process:read", "finance:read", "finance:write",
    "finance:approve", "notifications:read", "fields:cost", "fields:internal", "kpis:read",
})  # fmt: skip
_INTEGRATION = frozenset({
    "catalog:read", "catalog:write", "customers:read", "customers:write", "orders:read",
    "orders:write", "orders:ship", "stock:read", "stock:write", "purchasing:read",
    "purchasing:write", "purchasing:receive", "production:read", "finance:read", "imports:write",
})  # fmt: skip

GRANTS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "sales": _SALES,
        "sales_director": _SALES | {"orders:approve", "kpis:read"},
        "warehouse": _WAREHOUSE,
        "production": _PRODUCTION,
        "finance": _FINANCE,
        "finance_manager": _FINANCE,
        "manager": _EVERYTHING - {"users:admin"},
        "auditor": _READ | {"audit:read"},
        # Only through routes declared to serve customers, each confined to the caller's own
        # account (api/auth.py `customers=True`); every other route refuses a customer.
        "customer": frozenset({"orders:read", "finance:read", "customers:read"}),
        "integration": _INTEGRATION,
        "admin": _EVERYTHING,
    }
)

assert set(GRANTS) == set(ROLES), "every role has its grants, and only roles have them"
assert all(g <= _EVERYTHING for g in GRANTS.values()), "grants name known permissions"


def allows(role: str, permission: str) -> bool:
    """Whether a caller acting in `role` may use something that needs `permission`."""
    if permission in (PUBLIC, SIGNED_IN):
        return True
    return permission in GRANTS.get(role, frozenset())


def matrix_markdown() -> str:
    """The matrix as docs/security.md prints it (a test keeps the two equal)."""
    header = "| permission | what it allows | " + " | ".join(ROLES) + " |"
    rule = "|---|---|" + "---|" * len(ROLES)
    rows = [
        f"| `{name}` | {what} | "
        + " | ".join("✓" if name in GRANTS[role] else "" for role in ROLES)
        + " |"
        for name, what in PERMISSIONS.items()
    ]
    return "\n".join([header, rule, *rows])
