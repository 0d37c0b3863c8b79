"""Serving the API with uvicorn, so that a shutdown also ends the live streams."""

from __future__ import annotations

from types import FrameType

import uvicorn

from api.runtime import Runtime


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
