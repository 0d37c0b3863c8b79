"""Settings: the only reader of the process environment (ORDERLEDGER_* variables)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit

import orjson
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.cipher import TOPIC as CIPHER_TOPIC
from domain.cipher import BadKey, parse_key
from domain.statement_csv import CsvMap
from domain.workflows import ROLES

# A browser origin: scheme, host (name, IPv4 or [IPv6]) and optional port, nothing more.
_ORIGIN = re.compile(r"^https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")


class WebhookSubscription(BaseModel):
    """One receiver: the notification kinds it wants, and the secret its bodies are signed with."""

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    events: list[str] = Field(min_length=1)


class Settings(BaseSettings):
    """Everything configurable, with defaults that run with zero set-up on SQLite."""

    # Errors never echo what was given: a key (or a password) must not reach a log.
    model_config = SettingsConfigDict(
        env_prefix="ORDERLEDGER_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = Field(
        "sqlite:///var/orderledger.db",
        description="sqlite:///path/to/file.db (default) or postgresql://user@host:5432/db",
    )
    events_schema: str = Field("public", description="PostgreSQL schema of the event store")
    views_schema: str = Field("orderledger_views", description="PostgreSQL schema of read models")
    host: str = "127.0.0.1"
    port: int = 8000
    receipt_tolerance: Decimal = Field(
        Decimal("0.05"), description="Over-receipt allowed on a PO line, as a fraction"
    )
    tax_rate: Decimal = Field(
        Decimal(0), ge=0, le=1, description="Tax on receivables, a fraction of the net amount"
    )
    write_off_approver_roles: list[str] = Field(
        default_factory=lambda: ["finance_manager", "manager"],
        min_length=1,
        description='JSON: the roles that approve or reject write-offs, ["finance_manager"]',
    )
    credit_include_open_orders: bool = Field(
        True, description="Count open orders (submitted, not yet shipped) in credit exposure"
    )
    credit_hold_score: int = Field(
        40, ge=0, le=100, description="At shipment, a credit score below this holds the order"
    )
    projection_page_size: int = 1000
    projection_poll_seconds: float = 0.5
    run_projections: bool = Field(True, description="Run projection workers inside the API")
    projection_listen: bool = Field(
        True,
        description="PostgreSQL: wake projection runners on each commit (LISTEN); false behind"
        " a pooler that cannot LISTEN (PgBouncer in transaction mode): they poll then",
    )
    read_your_writes_timeout: float = 5.0
    sse_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds a live stream may stay silent before a keep-alive"
    )
    postgres_pool_size: int = 10
    max_body_bytes: int = Field(
        1_000_000, gt=0, description="Largest request body; statement uploads have their own limit"
    )
    max_url_bytes: int = Field(8192, ge=256, description="Longest path and query string (414)")
    max_header_count: int = Field(100, ge=10, description="Most request headers (431)")
    max_header_bytes: int = Field(16384, ge=1024, description="Largest headers in total (431)")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description='Browser origins allowed to call the API: JSON ["https://shop.example"] or'
        " comma-separated; empty: CORS off",
    )
    cors_allow_credentials: bool = Field(
        False, description="Let those origins send cookies and Authorization (never with *)"
    )
    behind_tls: bool = Field(
        False,
        description="Served over HTTPS (itself or by a proxy): send Strict-Transport-Security",
    )
    statement_max_bytes: int = Field(
        20_000_000, gt=0, description="Largest bank statement file accepted (upload or CLI)"
    )
    statement_max_lines: int = Field(100_000, gt=0, description="Most lines in one statement")
    import_max_bytes: int = Field(
        50_000_000, gt=0, description="Largest spreadsheet import accepted (upload or CLI)"
    )
    export_max_rows: int = Field(
        100_000, gt=0, description="Most rows a list answers as a CSV or XLSX file"
    )
    statement_csv_map: CsvMap = Field(
        default_factory=CsvMap, description="JSON: how CSV statements are read by default"
    )
    aggregate_cache_size: int = 20_000
    read_model_checkpoint_interval: int = Field(
        5_000,
        ge=0,
        description="Events between read-model checkpoints taken by the server; 0: none",
    )
    sla_scan_seconds: float = Field(
        60.0, gt=0, description="How often the SLA monitor looks for orders late in a stage"
    )
    run_notifications: bool = Field(True, description="Send outbox notifications from the API")
    role_emails: dict[str, list[str]] = Field(
        default_factory=dict, description='JSON: role → addresses, {"sales_director": ["…"]}'
    )
    webhooks: list[WebhookSubscription] = Field(
        default_factory=list, description='JSON: [{"url", "secret", "events": ["order.shipped"]}]'
    )
    smtp_host: str | None = Field(None, description="No host: e-mails wait, pending")
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "orderledger@localhost"
    notify_backoff_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles")
    notify_backoff_max_seconds: float = Field(3600.0, gt=0)
    notify_max_attempts: int = Field(8, ge=1)
    notify_timeout_seconds: float = Field(10.0, gt=0, description="Per SMTP or HTTP exchange")
    notify_poll_seconds: float = Field(1.0, gt=0)
    session_seconds: int = Field(
        8 * 3600, gt=0, le=30 * 86400, description="How long a console sign-in lasts"
    )
    session_secret: SecretStr | None = Field(
        None, description="Signs session tokens; unset: a random key kept in the credential store"
    )
    tracking_link_days: int = Field(
        30, ge=1, le=366, description="How long a shared tracking link opens its order"
    )
    secure_cookies: bool = Field(
        False, description="Session cookies only over HTTPS (set it behind TLS)"
    )
    sign_in_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins in a row that lock a name"
    )
    sign_in_lockout_seconds: int = Field(900, ge=1, description="How long a locked name waits")
    sign_in_failure_delay_seconds: float = Field(
        1.0, ge=0, description="Each failed sign-in is answered this much later"
    )
    cipher_key: SecretStr | None = Field(
        None, description="Encrypt stored events (AES-GCM): base64 of a 16, 24 or 32-byte key"
    )
    cipher_key_file: Path | None = Field(
        None, description="… or the file holding that key (no access for other users)"
    )
    cipher_old_keys: SecretStr | None = Field(
        None, description="Comma-separated keys still read while states are re-encrypted"
    )
    cipher_old_keys_file: Path | None = Field(None, description="… or a file, one key a line")

    @field_validator("write_off_approver_roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {', '.join(unknown)}; roles are {', '.join(ROLES)}")
        return roles

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path or trailing /"
                )
        return origins

    @field_validator("cors_allow_credentials")
    @classmethod
    def _no_credentials_for_everyone(cls, allow: bool, info: ValidationInfo) -> bool:
        if allow and "*" in info.data.get("cors_origins", []):
            raise ValueError(
                "credentials cannot be allowed for every origin (*): list the origins instead"
            )
        return allow

    @field_validator("cipher_key", "cipher_key_file", "cipher_old_keys", "cipher_old_keys_file",
                     mode="before")  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _readable_keys(self) -> Settings:
        self.cipher_keys()  # a bad key or key file stops the start, in one line
        return self

    def cipher_keys(self) -> list[str] | None:
        """The event store's keys, current first then old ones (None: no encryption)."""
        current = _one_of(self.cipher_key, self.cipher_key_file, "CIPHER_KEY")
        old = _one_of(self.cipher_old_keys, self.cipher_old_keys_file, "CIPHER_OLD_KEYS")
        if current is None:
            if old is not None:
                raise ValueError(
                    "ORDERLEDGER_CIPHER_OLD_KEYS needs ORDERLEDGER_CIPHER_KEY, the key that"
                    " states are encrypted under"
                )
            return None
        if "\n" in current.strip():
            raise ValueError("ORDERLEDGER_CIPHER_KEY_FILE holds more than one key")
        olds = [k for line in (old or "").replace(",", "\n").splitlines() if (k := line.strip())]
        try:
            parse_key(current, "ORDERLEDGER_CIPHER_KEY")
            for number, key in enumerate(olds, 1):
                parse_key(key, f"old key {number} of ORDERLEDGER_CIPHER_OLD_KEYS")
        except BadKey as error:
            raise ValueError(str(error)) from None
        return [current.strip(), *olds]

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def sqlite_path(self) -> Path:
        if not self.database_url.startswith("sqlite:///"):
            raise ValueError(f"unsupported database URL: {self.database_url!r}")
        return Path(self.database_url.removeprefix("sqlite:///"))

    def views_path(self) -> Path:
        path = self.sqlite_path()
        return path.with_name(path.stem + "-views" + path.suffix)

    def credentials_path(self) -> Path:
        """The SQLite file of key and password hashes: back it up with the ledger."""
        path = self.sqlite_path()
        return path.with_name(path.stem + "-credentials" + path.suffix)

    def checkpoints_path(self) -> Path:
        """The SQLite file of read-model checkpoints, beside the read models."""
        path = self.sqlite_path()
        return path.with_name(path.stem + "-checkpoints" + path.suffix)

    def postgres_conninfo(self) -> str:
        parts = urlsplit(self.database_url)
        fields = {
            "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432),
            "dbname": parts.path.lstrip("/") or "postgres",
            "user": unquote(parts.username or "postgres"),
        }
        if parts.password:
            fields["password"] = unquote(parts.password)
        return " ".join(f"{key}={value}" for key, value in fields.items())

    def eventsourcing_env(self) -> dict[str, str]:
        """The event store's configuration, derived from `database_url`."""
        env = {
            "AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size),
            "COMPRESSOR_TOPIC": "",
        }
        keys = self.cipher_keys()
        if keys:
            env.update(
                CIPHER_TOPIC=CIPHER_TOPIC, CIPHER_KEY=keys[0], CIPHER_OLD_KEYS=",".join(keys[1:])
            )
        if self.is_postgres:
            parts = urlsplit(self.database_url)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                # The library's recorder, safe for saves of thousands of events too.
                APPLICATION_RECORDER_TOPIC="domain.postgres_recorder:LargeSaveRecorder",
                POSTGRES_DBNAME=parts.path.lstrip("/") or "postgres",
                POSTGRES_HOST=parts.hostname or "127.0.0.1",
                POSTGRES_PORT=str(parts.port or 5432),
                POSTGRES_USER=unquote(parts.username or "postgres"),
                POSTGRES_SCHEMA=self.events_schema,
                POSTGRES_PASSWORD=unquote(parts.password or ""),
                POSTGRES_POOL_SIZE=str(self.postgres_pool_size),
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_LOCK_TIMEOUT="10",
                POSTGRES_CONNECT_TIMEOUT="5",
                POSTGRES_PRE_PING="n",  # the library retries a dead pooled connection
            )
        else:
            path = self.sqlite_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=str(path),
                SQLITE_LOCK_TIMEOUT="30",
            )
        return env


def _one_of(value: SecretStr | None, file: Path | None, name: str) -> str | None:
    """A secret given in ORDERLEDGER_<name> or in the file ORDERLEDGER_<name>_FILE."""
    if value is not None and file is not None:
        raise ValueError(f"set ORDERLEDGER_{name} or ORDERLEDGER_{name}_FILE, not both")
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    variable = f"ORDERLEDGER_{name}_FILE"
    try:
        mode = file.stat().st_mode
        text = file.read_text()
    except OSError as error:
        raise ValueError(f"{variable}: cannot read {file}: {error.strerror or error}") from None
    if mode & 0o007:
        raise ValueError(
            f"{variable}: {file} is open to other users (mode {mode & 0o777:04o});"
            f" `chmod 600 {file}` first"
        )
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise ValueError(f"{variable}: {file} holds no key")
    return "\n".join(lines)
