"""Typed configuration: a YAML or JSON file, a named profile, ``MOCKFORGE_*`` variables and CLI flags.

Precedence, highest first: CLI flag > environment > profile > file > default. Profiles are
overlays under ``profiles:``; mappings merge deeply and lists are replaced.

    cfg = load_config("mockforge.yaml", profile="ci", overrides={"http.port": 0})
    cfg.http.port, cfg.core.max_request_logs

Listener ports default to ``None`` ("not given"): a listener other than HTTP starts when it is
enabled *or* its port is given, so ``effective_port()`` helpers give the port to bind.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from mockforge.config_files import (
    deep_merge,
    drop_keys,
    get_path,
    read_config_file,
    resolve_paths,
    set_path,
    unknown_keys,
)
from mockforge.core.hosts import entry_ok
from mockforge.errors import ConfigError

log = logging.getLogger("mockforge.config")

DEFAULT_HTTP_PORT = 3000
DEFAULT_WS_PORT = 3001
DEFAULT_GRPC_PORT = 50051
DEFAULT_ADMIN_PORT = 9080
DEFAULT_METRICS_PORT = 9090
DEFAULT_MAX_REQUEST_LOGS = 1000
DEFAULT_CONFIG_NAME = "mockforge.yaml"
#: Most worker processes ``core.workers`` may ask for (a typo such as 1000 is refused, not forked).
MAX_WORKERS = 256


class ValidationConfig(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["off", "warn", "enforce"] = "enforce"
    #: {"POST /pets": "warn"}
    overrides: dict[str, Literal["off", "warn", "enforce"]] = {}
    status: Literal[400, 422] = 400


class CorsConfig(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    origins: list[str] = msgspec.field(default_factory=lambda: ["*"])
    methods: list[str] = msgspec.field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    )
    headers: list[str] = msgspec.field(default_factory=lambda: ["*"])
    credentials: bool = False
    max_age_ms: int = 600_000


class TlsConfig(msgspec.Struct, frozen=True, kw_only=True):
    """TLS on a listener (docs/TLS.md). On when ``cert`` or ``auto`` is given."""

    #: PEM certificate (a chain may follow it) and its PEM key; ``key_password`` for an encrypted key.
    cert: str | None = None
    key: str | None = None
    key_password: str | None = None
    #: A certificate issued by the local CA in core.cache_dir, for localhost, 127.0.0.1, ::1 and ``hosts``.
    auto: bool = False
    hosts: list[str] = []
    #: ``tls``: TLS only; ``both``: plain HTTP and TLS on one port, told apart by the first byte.
    mode: Literal["tls", "both"] = "tls"
    #: HTTP only: serve TLS on this second port and keep ``http.port`` plain.
    port: int | None = None
    #: PEM CA bundle that client certificates must chain to (mutual TLS).
    client_ca: str | None = None
    #: Default ``required`` when ``client_ca`` is given.
    client_auth: Literal["none", "optional", "required"] | None = None
    min_version: Literal["1.2", "1.3"] = "1.2"

    @property
    def enabled(self) -> bool:
        return self.auto or self.cert is not None


class DriftConfig(msgspec.Struct, frozen=True, kw_only=True):
    #: Check proxied and recorded upstream answers against the spec (docs/DRIFT.md): ``report``
    #: passes them through and records findings, ``enforce`` answers 502 with the findings.
    mode: Literal["off", "report", "enforce"] = "off"
    #: (operation, kind) groups kept for ``GET /__mockforge/drift``; new groups past it are counted.
    max_groups: int = 1000


class StateConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Stateful mocks (docs/STATE.md)."""

    #: ``on``: remember writes, unknown ids fall back to generated answers; ``strict``: unknown
    #: ids get the spec's 404 and writes must validate.
    mode: Literal["off", "on", "strict"] = "off"
    #: Request header that selects an isolated store.
    namespace_header: str = "X-Mockforge-Namespace"
    #: Stored resources per namespace; a create beyond it gets 507.
    max_resources: int = 10_000
    #: Namespaces kept; the least recently used one is dropped first.
    max_namespaces: int = 1_000
    #: Operations in one JSON Patch (``application/json-patch+json``) request; more is 422.
    max_patch_ops: int = 1_000
    #: Overrides of inference: {collection, item, id_field, id_kind, list_property, wrapper}.
    resources: list[dict[str, Any]] = []
    #: Seed collections from the spec's examples.
    seed_from_examples: bool = True
    #: YAML/JSON file: collection path -> list of objects, loaded at start (and on --watch).
    seed: str | None = None
    #: ``memory`` or ``sqlite:///path/state.db`` (kept across restarts, WAL).
    store: str = "memory"


class ExamplesConfig(msgspec.Struct, frozen=True, kw_only=True):
    #: Serve examples that do not match their own schema as written; by default such an example
    #: is repaired (types coerced, missing or forbidden parts fixed) or replaced by a generated body.
    trust: bool = False


class ResponsesConfig(msgspec.Struct, frozen=True, kw_only=True):
    #: Generate a fresh body per request (seeded by ``core.seed`` plus a per-operation request
    #: counter) instead of one stable body per operation; ``Prefer: dynamic=true|false`` overrides.
    dynamic: bool = False


class CallbacksConfig(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAPI callbacks and 3.1 webhooks that mockforge sends (docs/CALLBACKS.md)."""

    #: Names, IPs or CIDR ranges callbacks may go to; a name only to addresses the list allows.
    allow_hosts: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1", "localhost"])
    max_in_flight: int = 64  #: sending at once (retries included); more are dropped and counted
    timeout_ms: int = 5000  #: per attempt, from connecting to the end of the (capped) answer
    retries: int = 2  #: attempts after a failure to connect, a timeout, a 5xx or a 429
    retry_backoff_ms: int = 200  #: before the first retry; doubled before each next one
    max_url_bytes: int = 2048  #: longer callback URLs are not sent
    max_response_bytes: int = 64 * 1024  #: bytes of a receiver's answer read


class HttpConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_HTTP_PORT
    specs: list[str] = []
    validation: ValidationConfig = ValidationConfig()
    response_template_expand: bool = False
    #: Older spelling of ``http.responses.dynamic`` (either one turns it on).
    dynamic_data: bool = False
    responses: ResponsesConfig = ResponsesConfig()
    examples: ExamplesConfig = ExamplesConfig()
    cors: CorsConfig = CorsConfig()
    max_body_bytes: int = 10 * 1024 * 1024
    # ---- bounds on unauthenticated input (docs/SECURITY.md) ----------------------------
    #: Bytes of request line plus headers; more gets 431.
    max_header_bytes: int = 64 * 1024
    #: Header lines per request; more gets 431.
    max_headers: int = 100
    #: Bytes of the request target; more gets 414.
    max_request_line_bytes: int = 8 * 1024
    #: Time from a connection's first byte (or the end of the last answer) to the end of the headers.
    header_timeout_ms: int = 10_000
    #: An idle keep-alive connection is closed after this long.
    keepalive_timeout_ms: int = 60_000
    #: Time to receive a whole body once its headers are in.
    body_timeout_ms: int = 30_000
    #: Open connections per listener; past it, 503 and close (one slot is kept for health checks).
    max_connections: int = 1024
    #: Largest body mockforge reads from a file or a plugin to answer with.
    max_response_bytes: int = 10 * 1024 * 1024
    #: Nesting depth of a JSON request body; deeper gets 400.
    max_json_depth: int = 64
    #: Stubs (see docs/STUBS.md); validated by the stub store, not here.
    routes: list[dict[str, Any]] = []
    stubs_dir: str | None = None
    watch: bool = False
    graceful_timeout_ms: int = 5000
    tls: TlsConfig = TlsConfig()
    drift: DriftConfig = DriftConfig()
    state: StateConfig = StateConfig()
    callbacks: CallbacksConfig = CallbacksConfig()


class WsRouteConfig(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    mode: Literal["echo", "json_echo", "script", "rules"] = "echo"
    script: str | None = None
    rules: list[dict[str, Any]] = []
    timeout_ms: int | None = None


class WebSocketConfig(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    host: str | None = None
    port: int | None = None
    routes: list[WsRouteConfig] = msgspec.field(default_factory=lambda: [WsRouteConfig(path="/ws", mode="echo")])
    max_connections: int = 1000
    max_message_bytes: int = 1024 * 1024
    idle_timeout_ms: int = 300_000
    #: Messages queued per connection before the slowest client is disconnected.
    send_queue_limit: int = 256
    #: Bytes queued per connection before the slowest client is disconnected.
    send_queue_bytes: int = 4 * 1024 * 1024


class GrpcConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str | None = None
    port: int | None = None
    proto_dir: str | None = None
    include_paths: list[str] = []
    descriptor_sets: list[str] = []
    stream_count: int = 3
    stream_interval_ms: int = 100
    stubs: list[dict[str, Any]] = []
    stubs_dir: str | None = None
    reflection: bool = True
    on_error: Literal["fail", "skip"] = "fail"
    max_message_bytes: int = 4 * 1024 * 1024
    #: Open connections on the gRPC listener; past it, GOAWAY and close.
    max_connections: int = 1000
    tls: TlsConfig = TlsConfig()


class AdminConfig(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int | None = None
    token: str | None = None
    #: Origins a browser may call the admin API from (exact ``scheme://host[:port]``); default none.
    cors_origins: list[str] = []
    #: Host header values accepted besides the bound address, ``localhost`` and loopback IPs.
    allowed_hosts: list[str] = []
    #: Allow an admin surface off loopback without a token (warned on every start).
    insecure: bool = False
    #: Live feeds (``GET /__mockforge/events``, the console's Traffic page) open at once.
    max_event_streams: int = 8
    #: Log entries queued per live feed for a slow reader; past it the oldest are dropped.
    event_queue_size: int = 256


class FixturesConfig(msgspec.Struct, frozen=True, kw_only=True):
    mode: Literal["off", "replay", "replay_strict", "record", "record_missing"] = "off"
    dir: str = "./fixtures"
    ignore_query: list[str] = []
    match_headers: list[str] = []
    ignore_body_fields: list[str] = []
    redact: list[str] = []
    cache_entries: int = 0
    overwrite: bool = False
    max_pending_writes: int = 64


class ProxyRule(msgspec.Struct, frozen=True, kw_only=True):
    upstream: str
    prefix: str | None = None
    regex: str | None = None


class ProxyConfig(msgspec.Struct, frozen=True, kw_only=True):
    upstream: str | None = None
    rules: list[ProxyRule] = []
    timeout_ms: int = 30_000
    headers: dict[str, str] = {}
    verify_tls: bool = True
    #: PEM CA bundle to trust for the upstream, besides the system's.
    ca_bundle: str | None = None
    #: PEM client certificate (and key, when not in the same file) shown to the upstream.
    client_cert: str | None = None
    client_key: str | None = None


class CoreConfig(msgspec.Struct, frozen=True, kw_only=True):
    max_request_logs: int = DEFAULT_MAX_REQUEST_LOGS
    max_logged_body_bytes: int = 256
    log_redact_headers: list[str] = []
    seed: int | None = None
    cache_dir: str = ".mockforge-cache"
    latency: dict[str, Any] | None = None
    latency_by_tag: dict[str, dict[str, Any]] = {}
    latency_by_operation: dict[str, dict[str, Any]] = {}
    faults: dict[str, Any] | None = None
    faults_by_tag: dict[str, dict[str, Any]] = {}
    faults_by_operation: dict[str, dict[str, Any]] = {}
    fixtures: FixturesConfig = FixturesConfig()
    proxy: ProxyConfig = ProxyConfig()
    max_near_misses: int = 100
    max_unmatched: int = 1000
    #: Folders (besides the config file's) that body_file, fixtures, HAR import and plugins may read.
    file_roots: list[str] = []
    #: Header bytes kept per request log entry (beyond it the entry is marked truncated).
    max_logged_header_bytes: int = 8 * 1024
    #: Stubs scored for a near-miss report per unmatched request.
    max_near_miss_stubs: int = 200
    #: Bytes of each request part (path, body, header) compared when scoring a near miss.
    max_near_miss_input_bytes: int = 4096
    #: Nesting depth of specs, configs and stub files (JSON or YAML); deeper is an error.
    max_document_depth: int = 128
    #: Nodes a YAML document may reach through aliases; more is an error (alias bombs).
    max_yaml_alias_nodes: int = 100_000
    #: Worker processes serving the same ports (docs/SCALING.md); ``auto``: one per core.
    workers: int | Literal["auto"] = 1
    #: With more than one worker, let each keep its own state (logs, stubs, scenarios) instead of
    #: refusing to start without ``shared_state``; logs and verification then say which worker.
    independent_workers: bool = False
    #: Where replicas share state (docs/SHARED_STATE.md): ``memory`` (this process only), or a
    #: ``redis://``, ``rediss://`` or ``unix://`` URL.
    shared_state: str = "memory"
    #: Prefix of every Redis key and channel, so several environments can share one Redis.
    shared_state_prefix: str = "mockforge"
    #: Log entries (and miss reports) waiting to be written to Redis; past it they are dropped
    #: and counted, never blocking an answer.
    max_shared_log_buffer: int = 10_000


class MetricsConfig(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int | None = None
    path: str = "/metrics"


class ObservabilityConfig(msgspec.Struct, frozen=True, kw_only=True):
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: One line per exchange on stderr: time, protocol, method, path, status, source, ms.
    log_requests: bool = False
    metrics: MetricsConfig = MetricsConfig()


class PluginsConfig(msgspec.Struct, frozen=True, kw_only=True):
    dirs: list[str] = msgspec.field(default_factory=lambda: ["./plugins"])
    load: list[str] = []
    routes: dict[str, str] = {}
    filters: list[str] = []
    on_error: Literal["fail", "skip"] = "fail"
    max_failures: int = 10


class Config(msgspec.Struct, frozen=True, kw_only=True):
    http: HttpConfig = HttpConfig()
    websocket: WebSocketConfig = WebSocketConfig()
    grpc: GrpcConfig = GrpcConfig()
    admin: AdminConfig = AdminConfig()
    core: CoreConfig = CoreConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    plugins: PluginsConfig = PluginsConfig()
    #: The file this config came from (None for defaults / dicts); set by the loader.
    source: str | None = None

    # ---- which listeners start -------------------------------------------------
    def ws_listener_port(self) -> int | None:
        ws = self.websocket
        if ws.port is not None:
            return ws.port
        return DEFAULT_WS_PORT if ws.enabled else None

    def grpc_enabled(self) -> bool:
        return bool(self.grpc.proto_dir or self.grpc.descriptor_sets)

    def grpc_listener_port(self) -> int:
        return DEFAULT_GRPC_PORT if self.grpc.port is None else self.grpc.port

    def admin_listener_port(self) -> int | None:
        a = self.admin
        if a.port is not None:
            return a.port
        return DEFAULT_ADMIN_PORT if a.enabled else None

    def metrics_listener_port(self) -> int | None:
        m = self.observability.metrics
        if m.port is not None:
            return m.port
        return DEFAULT_METRICS_PORT if m.enabled else None

    def worker_count(self) -> int:
        """``core.workers`` as a number (``auto``: the cores of this machine)."""
        w = self.core.workers
        return (os.cpu_count() or 1) if w == "auto" else w


#: Environment variable -> key path. Documented in docs/CONFIG.md; keep both in step.
ENV_KEYS: dict[str, str] = {
    "MOCKFORGE_HTTP_HOST": "http.host",
    "MOCKFORGE_HTTP_PORT": "http.port",
    "MOCKFORGE_SPEC": "http.specs",
    "MOCKFORGE_REQUEST_VALIDATION": "http.validation.mode",
    "MOCKFORGE_TEMPLATE_EXPAND": "http.response_template_expand",
    "MOCKFORGE_MAX_BODY_BYTES": "http.max_body_bytes",
    "MOCKFORGE_STUBS_DIR": "http.stubs_dir",
    "MOCKFORGE_WATCH": "http.watch",
    "MOCKFORGE_TLS": "http.tls.auto",
    "MOCKFORGE_STATE": "http.state.mode",
    "MOCKFORGE_DYNAMIC_RESPONSES": "http.responses.dynamic",
    "MOCKFORGE_TRUST_EXAMPLES": "http.examples.trust",
    "MOCKFORGE_WS_PORT": "websocket.port",
    "MOCKFORGE_GRPC_PORT": "grpc.port",
    "MOCKFORGE_PROTO_DIR": "grpc.proto_dir",
    "MOCKFORGE_ADMIN_PORT": "admin.port",
    "MOCKFORGE_ADMIN_TOKEN": "admin.token",
    "MOCKFORGE_ADMIN_INSECURE": "admin.insecure",
    "MOCKFORGE_MAX_REQUEST_LOGS": "core.max_request_logs",
    "MOCKFORGE_SEED": "core.seed",
    "MOCKFORGE_WORKERS": "core.workers",
    "MOCKFORGE_CACHE_DIR": "core.cache_dir",
    "MOCKFORGE_FIXTURES_MODE": "core.fixtures.mode",
    "MOCKFORGE_FIXTURES_DIR": "core.fixtures.dir",
    "MOCKFORGE_PROXY_UPSTREAM": "core.proxy.upstream",
    "MOCKFORGE_SHARED_STATE": "core.shared_state",
    "MOCKFORGE_SHARED_STATE_PREFIX": "core.shared_state_prefix",
    "MOCKFORGE_LOG_LEVEL": "observability.log_level",
    "MOCKFORGE_LOG_REQUESTS": "observability.log_requests",
    "MOCKFORGE_METRICS_PORT": "observability.metrics.port",
}

#: Variables read elsewhere (not config keys): they must not be reported as unknown.
ENV_OTHER = {"MOCKFORGE_CONFIG", "MOCKFORGE_PROFILE", "MOCKFORGE_WORKER", "MOCKFORGE_SUPERVISOR"}

#: Keys an environment variable gives as a comma-separated list.
_LIST_KEYS = {
    "core.file_roots", "http.specs", "grpc.include_paths", "grpc.descriptor_sets", "plugins.dirs", "plugins.load",
}


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith("MOCKFORGE_"):
            continue
        key = ENV_KEYS.get(name)
        if key is None:
            if name not in ENV_OTHER:
                log.warning("unknown environment variable %s ignored (see docs/CONFIG.md)", name)
            continue
        if key in _LIST_KEYS:
            set_path(out, key, [v for v in value.split(",") if v])
        else:
            set_path(out, key, value)
    return out


def _where(exc: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's "Expected `int`, got `str` - at `$.http.port`" into (key path, reason)."""
    text = str(exc)
    reason, _, at = text.partition(" - at `")
    path = at.rstrip("`").removeprefix("$").lstrip(".") if at else ""
    choices = _choices(path)  # a Literal key: say which values it takes
    return path, f"{reason}; expected one of: {', '.join(choices)}" if choices else reason


def _choices(dotted: str) -> list[str]:
    """The allowed values of a Literal-typed key, for error messages."""
    import typing

    cur: Any = Config
    for part in dotted.split("."):
        if not (isinstance(cur, type) and issubclass(cur, msgspec.Struct)):
            return []
        hints = typing.get_type_hints(cur)
        if part not in hints:
            return []
        cur = hints[part]
        if typing.get_origin(cur) is list and part != dotted.split(".")[-1]:
            cur = typing.get_args(cur)[0]
    if typing.get_origin(cur) is typing.Literal:
        return [str(a) for a in typing.get_args(cur)]
    return []


def build_config(
    data: Mapping[str, Any] | None = None,
    *,
    file: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Layer file data, profile, environment and overrides, then validate into a ``Config``.

    ``overrides`` maps dotted key paths to values (what CLI flags set); ``None`` values are skipped.
    Each layer is also checked on its own, so a wrong value is reported even when a higher layer
    overrides it (an environment variable's error names the variable).
    """
    raw: dict[str, Any] = dict(data or {})
    profiles = raw.pop("profiles", None) or {}
    if not isinstance(profiles, dict):
        raise ConfigError("'profiles' must be a mapping of name -> overlay", file=file, where="profiles")
    _check_layer(raw, label=file or "<config>")
    if profile:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"unknown profile '{profile}' (known: {known})", file=file, where="profiles")
        overlay = profiles[profile]
        if not isinstance(overlay, dict):
            raise ConfigError("a profile must be a mapping", file=file, where=f"profiles.{profile}")
        _check_layer(overlay, label=file or "<config>", prefix=f"profiles.{profile}.")
        raw = deep_merge(raw, overlay)
    if file:
        resolve_paths(raw, Path(file).resolve().parent)
    environ = os.environ if env is None else env
    env_data = _env_overrides(environ)
    if env_data:
        names = {key: name for name, key in ENV_KEYS.items() if name in environ}
        _check_layer(env_data, label="environment", names=names)
        cwd = Path.cwd()
        resolve_paths(env_data, cwd)
        raw = deep_merge(raw, env_data)
    if overrides:
        flags: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is not None:
                set_path(flags, key, value)
        _check_layer(flags, label="command line")
        resolve_paths(flags, Path.cwd())
        raw = deep_merge(raw, flags)
    unknown = unknown_keys(raw, Config, "")
    if unknown:
        where = f" in {file}" if file else ""
        log.warning("unknown config keys ignored%s: %s", where, ", ".join(unknown))
        drop_keys(raw, unknown)
    raw["source"] = file
    _normalise(raw)
    try:
        cfg = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        path, reason = _where(exc)
        raise ConfigError(reason, file=file or "<config>", where=path or None) from None
    _check(cfg, file)
    return cfg


def _normalise(raw: dict[str, Any]) -> None:
    if isinstance(get_path(raw, "http.state.mode"), bool):  # YAML 1.1 reads a bare on/off as a boolean
        set_path(raw, "http.state.mode", "on" if get_path(raw, "http.state.mode") else "off")


def _check_layer(
    layer: Mapping[str, Any], *, label: str, prefix: str = "", names: Mapping[str, str] | None = None
) -> None:
    """``ConfigError`` naming the layer and key (or variable) of a wrong value in this layer alone."""
    if not layer:
        return
    data = deep_merge({}, layer)  # a copy: _normalise must not change the caller's mappings
    data.pop("source", None)
    _normalise(data)
    try:
        _check(msgspec.convert(data, Config, strict=False), label)
        return
    except msgspec.ValidationError as exc:
        path, reason = _where(exc)
    except ConfigError as exc:
        path, reason = exc.where or "", exc.message
    if names is not None:  # name the variable that set this key (or the section holding it)
        name = next((n for key, n in names.items() if path == key or path.startswith(key + ".")), None)
        if name is not None:
            label = f"environment variable {name}"
    raise ConfigError(reason, file=label, where=f"{prefix}{path}" if path else prefix.rstrip(".") or None)


_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``<redacted>`` (for logs, errors and server-info)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    auth, at, host = rest.rpartition("@")
    if not at:
        return url
    user = auth.partition(":")[0]
    return f"{scheme}://{user}:<redacted>@{host}" if ":" in auth else f"{scheme}://<redacted>@{host}"


def _check(cfg: Config, file: str | None) -> None:
    def bad(where: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=file or "<config>", where=where)

    for where, port in (
        ("http.port", cfg.http.port),
        ("websocket.port", cfg.websocket.port),
        ("grpc.port", cfg.grpc.port),
        ("admin.port", cfg.admin.port),
        ("observability.metrics.port", cfg.observability.metrics.port),
    ):
        if port is not None and not 0 <= port <= 65535:
            raise bad(where, f"expected a port from 0 to 65535, got {port}")
    if cfg.core.max_request_logs < 0:
        raise bad("core.max_request_logs", "expected a number >= 0")
    if cfg.core.max_logged_body_bytes < 0:
        raise bad("core.max_logged_body_bytes", "expected a number >= 0")
    for where, value in (
        ("http.max_body_bytes", cfg.http.max_body_bytes),
        ("http.max_header_bytes", cfg.http.max_header_bytes),
        ("http.max_headers", cfg.http.max_headers),
        ("http.max_request_line_bytes", cfg.http.max_request_line_bytes),
        ("http.header_timeout_ms", cfg.http.header_timeout_ms),
        ("http.keepalive_timeout_ms", cfg.http.keepalive_timeout_ms),
        ("http.body_timeout_ms", cfg.http.body_timeout_ms),
        ("http.max_connections", cfg.http.max_connections),
        ("http.max_response_bytes", cfg.http.max_response_bytes),
        ("http.max_json_depth", cfg.http.max_json_depth),
        ("http.drift.max_groups", cfg.http.drift.max_groups),
        ("http.state.max_resources", cfg.http.state.max_resources),
        ("http.state.max_namespaces", cfg.http.state.max_namespaces),
        ("http.state.max_patch_ops", cfg.http.state.max_patch_ops),
        ("http.callbacks.max_in_flight", cfg.http.callbacks.max_in_flight),
        ("http.callbacks.timeout_ms", cfg.http.callbacks.timeout_ms),
        ("http.callbacks.max_url_bytes", cfg.http.callbacks.max_url_bytes),
        ("http.callbacks.max_response_bytes", cfg.http.callbacks.max_response_bytes),
        ("websocket.send_queue_bytes", cfg.websocket.send_queue_bytes),
        ("core.max_logged_header_bytes", cfg.core.max_logged_header_bytes),
        ("core.max_near_miss_input_bytes", cfg.core.max_near_miss_input_bytes),
        ("core.max_document_depth", cfg.core.max_document_depth),
        ("core.max_yaml_alias_nodes", cfg.core.max_yaml_alias_nodes),
        ("admin.max_event_streams", cfg.admin.max_event_streams),
        ("admin.event_queue_size", cfg.admin.event_queue_size),
        ("core.max_shared_log_buffer", cfg.core.max_shared_log_buffer),
    ):
        if value <= 0:
            raise bad(where, f"expected a number > 0, got {value}")
    if cfg.http.state.store != "memory" and not cfg.http.state.store.startswith("sqlite:///"):
        raise bad("http.state.store", "expected 'memory' or 'sqlite:///path/state.db'")
    shared = cfg.core.shared_state
    if shared != "memory" and not shared.startswith(("redis://", "rediss://", "unix://")):
        raise bad("core.shared_state", f"expected 'memory' or a redis://, rediss:// or unix:// URL, got {shared!r}")
    if not _PREFIX_RE.fullmatch(cfg.core.shared_state_prefix):
        raise bad("core.shared_state_prefix", "expected 1 to 64 of A-Z a-z 0-9 _ . : -")
    _check_workers(cfg, bad)
    if cfg.http.callbacks.retries < 0 or cfg.http.callbacks.retry_backoff_ms < 0:
        raise bad("http.callbacks.retries", "expected retries and retry_backoff_ms >= 0")
    for i, host in enumerate(cfg.http.callbacks.allow_hosts):
        if not entry_ok(host):
            raise bad(f"http.callbacks.allow_hosts.{i}", f"expected a host name, IP or CIDR range, got {host!r}")
    if cfg.core.max_near_miss_stubs < 0:
        raise bad("core.max_near_miss_stubs", "expected a number >= 0")
    for i, route in enumerate(cfg.websocket.routes):
        if not route.path.startswith("/"):
            raise bad(f"websocket.routes.{i}.path", "a path must start with '/'")
        if route.mode == "script" and not route.script:
            raise bad(f"websocket.routes.{i}.script", "mode 'script' needs a script file")
    for i, rule in enumerate(cfg.core.proxy.rules):
        if (rule.prefix is None) == (rule.regex is None):
            raise bad(f"core.proxy.rules.{i}", "give exactly one of 'prefix' or 'regex'")
        if rule.regex is not None:
            from mockforge.core.regex import RegexError, compile_user_regex

            try:
                compile_user_regex(rule.regex, where=f"core.proxy.rules.{i}.regex")
            except RegexError as exc:
                raise bad(exc.where, exc.reason) from None


def _check_workers(cfg: Config, bad: Callable[[str, str], ConfigError]) -> None:
    workers = cfg.core.workers
    if workers != "auto" and not 1 <= workers <= MAX_WORKERS:
        raise bad("core.workers", f"expected a number from 1 to {MAX_WORKERS} or 'auto', got {workers}")
    n = cfg.worker_count()
    if n > 1 and cfg.core.shared_state == "memory" and not cfg.core.independent_workers:
        raise bad(
            "core.workers",
            f"{n} workers would each keep their own request log, stubs and scenarios, so verification "
            "and admin changes would be wrong; give core.shared_state a redis:// URL (--shared-state) "
            "or pass --independent-workers to accept per-worker state",
        )


def load_config(
    path: str | None = None,
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    search_cwd: bool = True,
) -> Config:
    """Load a config file (or ``./mockforge.yaml`` when present and none is given) and layer the rest."""
    environ = os.environ if env is None else env
    path = path or environ.get("MOCKFORGE_CONFIG") or None
    if path is None and search_cwd and Path(DEFAULT_CONFIG_NAME).is_file():
        path = DEFAULT_CONFIG_NAME
    profile = profile or environ.get("MOCKFORGE_PROFILE") or None
    data = read_config_file(path) if path else {}
    return build_config(data, file=path, profile=profile, env=environ, overrides=overrides)


#: Every bound on input and on what grows with traffic (docs/SECURITY.md lists each with its default;
#: ``GET /__mockforge/stats`` shows the values in force).
BOUND_KEYS = (
    "http.max_body_bytes",
    "http.max_header_bytes",
    "http.max_headers",
    "http.max_request_line_bytes",
    "http.header_timeout_ms",
    "http.keepalive_timeout_ms",
    "http.body_timeout_ms",
    "http.max_connections",
    "http.max_response_bytes",
    "http.max_json_depth",
    "http.drift.max_groups",
    "http.state.max_resources",
    "http.state.max_namespaces",
    "http.state.max_patch_ops",
    "http.callbacks.max_in_flight",
    "http.callbacks.timeout_ms",
    "http.callbacks.max_url_bytes",
    "http.callbacks.max_response_bytes",
    "websocket.max_connections",
    "websocket.max_message_bytes",
    "websocket.send_queue_limit",
    "websocket.send_queue_bytes",
    "grpc.max_message_bytes",
    "grpc.max_connections",
    "core.max_request_logs",
    "core.max_logged_body_bytes",
    "core.max_logged_header_bytes",
    "core.max_near_misses",
    "core.max_near_miss_stubs",
    "core.max_near_miss_input_bytes",
    "core.max_unmatched",
    "core.max_document_depth",
    "core.max_yaml_alias_nodes",
    "core.max_shared_log_buffer",
    "core.fixtures.max_pending_writes",
    "core.fixtures.cache_entries",
    "plugins.max_failures",
    "admin.max_event_streams",
    "admin.event_queue_size",
)


def bounds(cfg: Config) -> dict[str, Any]:
    """The value in force of each key of ``BOUND_KEYS``."""
    data: dict[str, Any] = msgspec.to_builtins(cfg)
    return {key: get_path(data, key) for key in BOUND_KEYS}


def masked(cfg: Config) -> dict[str, Any]:
    """The config as plain data with secrets masked (for GET /__mockforge/server-info)."""
    data: dict[str, Any] = msgspec.to_builtins(cfg)
    if get_path(data, "admin.token"):
        set_path(data, "admin.token", "<redacted>")
    headers = get_path(data, "core.proxy.headers")
    if isinstance(headers, dict):
        set_path(data, "core.proxy.headers", {k: "<redacted>" for k in headers})
    set_path(data, "core.shared_state", mask_url(cfg.core.shared_state))
    return data
