"""Creates the per-protocol and optional services the config asks for and attaches them to the
runtime (``runtime.services``). Each service imports its own libraries, so what is not configured
costs nothing.
"""

from __future__ import annotations

from mockforge.runtime import Runtime


def attach_services(runtime: Runtime) -> None:
    cfg = runtime.config
    if cfg.websocket.routes:
        from mockforge.ws.hub import WebSocketHub

        runtime.services["ws"] = WebSocketHub(runtime)
