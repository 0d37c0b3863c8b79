"""HTTP hardening, installed by `create_app`: limits, CORS and security headers."""

from __future__ import annotations

from fastapi import FastAPI

from api.cors import install_cors
from api.request_limits import install_request_limits
from api.security_headers import install_security_headers
from api.settings import Settings


def harden(app: FastAPI, settings: Settings) -> None:
    """Request limits innermost, then CORS (so a refusal still tells a browser's script
    why), then the security headers around everything, errors included."""
    install_request_limits(app, settings)
    install_cors(app, settings)
    install_security_headers(app, settings)
