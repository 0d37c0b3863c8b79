"""Serving the API with uvicorn, so that a shutdown also ends the live streams."""

from __future__ import annotations

from types import FrameType
from typing import Any

import uvicorn

from api.runtime import Runtime
from api.settings import Settings

# Room, past the target and header limits, for the request line's method and version and
# each header's framing: within it the app answers 414/431 as problems. h11 refuses (400) a
# head still incomplete past it, which bounds the memory a slow or endless head can take.
HEAD_FRAMING_BYTES = 4096


def server_config(
    app: Any, settings: Settings, *, host: str, port: int, log_config: dict[str, Any] | None
) -> uvicorn.Config:
    """How `orderledger serve` runs the app: h11 (whose incomplete-event limit bounds the
    memory a request's head may take, which httptools would not), no Server header, and
    the given logging set-up (`api.log_privacy.logging_config()`; None: leave logging be)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=(
            settings.max_url_bytes + settings.max_header_bytes + HEAD_FRAMING_BYTES
        ),
        server_header=False,
        log_level="info",
        log_config=log_config,
    )


class LedgerServer(uvicorn.Server):
    """A uvicorn server that tells the runtime it is closing on the first exit signal.

    uvicorn waits for every open response to finish before it stops, and a live stream
    never finishes on its own: without the signal, one open order page would hold a
    shutdown (or a deployment's SIGTERM) until the browser tab closed.
    """

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.closing.set()
        super().handle_exit(sig, frame)
