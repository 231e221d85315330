"""Creates the services the config asks for and attaches them to the runtime
(``runtime.services``). Each service imports its own libraries, so what is not configured costs
nothing: no plugins found means wasmtime is never imported, fixtures off means no HTTP client.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from mockforge.runtime import Runtime

log = logging.getLogger("mockforge")


def _plugins_configured(runtime: Runtime) -> bool:
    cfg = runtime.config.plugins
    if cfg.load:
        return True
    return any(Path(d).is_dir() and any(Path(d).glob("*/plugin.yaml")) for d in cfg.dirs)


def attach_services(runtime: Runtime) -> None:
    cfg = runtime.config
    from mockforge.metrics import attach_metrics

    attach_metrics(runtime)  # always on (GET /__mockforge/metrics); prometheus_client loads at the first scrape

    from mockforge.http import admin_stubs
    from mockforge.http.stubbing import StubService

    stubs = StubService(runtime)
    runtime.services["stubs"] = stubs
    runtime.services["faults"] = stubs.fault_policy
    runtime.services["stubs_admin"] = functools.partial(admin_stubs.handle, stubs)
    runtime.reset_hooks.append(stubs.reset)

    if cfg.websocket.routes:
        from mockforge.ws.hub import WebSocketHub

        runtime.services["ws"] = WebSocketHub(runtime)

    if _plugins_configured(runtime):
        from mockforge.plugins.manager import PluginManager

        plugins = PluginManager(runtime)
        plugins.load_configured()
        runtime.services["plugins"] = plugins

    if cfg.core.fixtures.mode != "off" or cfg.core.proxy.upstream or cfg.core.proxy.rules:
        from mockforge.recording.service import attach_fixtures

        attach_fixtures(runtime)
