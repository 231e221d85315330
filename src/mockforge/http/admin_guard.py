"""Who may call the admin API (``/__mockforge/*``): the checks every admin request passes first.

The admin API changes what mockforge serves (stubs, faults, fixtures), so a web page in the
user's browser must not reach it, whether cross-origin or by DNS rebinding, and a network
neighbour must not reach it without a token. ``AdminGuard.check`` runs on each admin request,
in this order, and answers with the common error JSON when one fails (nothing else happens):

    Host      not the bound address, ``localhost``/``*.localhost``, a loopback IP or in
              ``admin.allowed_hosts``                                  -> 403 forbidden_host
    Origin    present, not the request's own origin (``http(s)://`` + its allowed ``Host``: the
              console's own calls; with ``allowed_hosts: ["*"]`` and no token, only on a Host
              that is bound, loopback or listed) and not in ``admin.cors_origins`` (exact match)
                                                                       -> 403 forbidden_origin
              (a preflight from an allowed origin gets 204 and the allow headers)
    token     ``admin.token`` set and no ``Authorization: Bearer TOKEN`` -> 401 (constant time);
              except a GET/HEAD of the console's files (``ui``, ``ui/...``), which hold no data:
              the page loads, then asks for the token before any data call
    body      not ``application/json`` (or YAML where the stub endpoints accept it) -> 415

Why these four: browsers send ``Origin`` on every cross-origin request that can change state
and on every CORS read, so refusing unknown origins stops cross-site requests, and requiring a
JSON content type removes the ``text/plain`` "simple request" that skips the preflight. DNS
rebinding makes a foreign page same-origin with us, but its ``Host`` is then the attacker's
name, which the host check refuses. A request without ``Host`` (HTTP/1.0) cannot come from a
browser (browsers always send it), so it passes the host check; the other checks still apply.

Cost: every set and byte string is built once at start-up; a check is a few dict/set lookups
and one ``hmac.compare_digest``. Only admin requests pay it; mock routes never enter here.

``check_exposure(config)`` is the start-up half: an admin listener off loopback without a token
refuses to start (``ConfigError`` naming ``admin.token``) unless ``admin.insecure`` is set; the
admin paths on a non-loopback HTTP port stay off (404) without a token, with a warning.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import TYPE_CHECKING

from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, error_response
from mockforge.errors import ConfigError

if TYPE_CHECKING:
    from mockforge.config import Config

log = logging.getLogger("mockforge.admin")

#: Hosts that mean "every interface": the Host check then accepts loopback names only (plus
#: ``admin.allowed_hosts``), since the machine's other names are not known for sure.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "", "*"})
#: Subpaths (first segment after ``/__mockforge/``) whose handlers read YAML bodies too
#: (``admin_stubs._body``); every other admin body must be JSON.
YAML_SUBPATHS = frozenset({"stubs", "verify", "scenarios", "faults"})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
ADMIN_METHODS = "GET, POST, PUT, DELETE"
ADMIN_HEADERS = "authorization, content-type"
PREFLIGHT_MAX_AGE = "600"
def new_refusal_counts() -> dict[str, int]:
    """The refusal counters every listener's guard shares (``runtime.admin_refused``, for stats)."""
    return {"host": 0, "origin": 0, "token": 0, "content_type": 0}


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761) or a loopback IP (127.0.0.0/8, ::1)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The name part of a ``Host`` header, lower case: ``[::1]:80`` -> ``::1``, ``A.b.:9`` -> ``a.b``.

    A port that is not all digits, or anything after ``]`` but ``:port``, makes the whole value
    the "name", which matches no allowed host (``localhost:1@evil.example`` is not ``localhost``).
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:] if end > 0 else ""
        if end > 0 and (not rest or (rest[0] == ":" and rest[1:].isdigit())):
            return value[1:end]
        return value
    if value.count(":") == 1:
        name, _, port = value.partition(":")
        if not port.isdigit():
            return value
        value = name
    return value.rstrip(".")


def _same_origin(origin: str, host: str | None) -> bool:
    """A browser's call from a page this listener served: ``Origin`` is ``http(s)://`` + ``Host``
    (which passed the host check, so a rebinding page with a foreign name never gets here)."""
    if host is None:
        return False
    scheme, sep, rest = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and rest.lower() == host.strip().lower()


def _console_file(method: str, sub: str) -> bool:
    """A GET/HEAD of the console's shell (``ui`` or ``ui/...``): static files with no data."""
    return method in ("GET", "HEAD") and (sub == "ui" or sub.startswith("ui/"))


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class AdminGuard:
    """The per-request admin checks for one listener, decided once from the config.

    ``refused`` counts the requests turned away, by reason (``host``, ``origin``, ``token``,
    ``content_type``), for the stats endpoint; pass one dict to share it between listeners.
    """

    def __init__(self, config: Config, bound_host: str, *, refused: dict[str, int] | None = None) -> None:
        admin = config.admin
        self.origins = frozenset(admin.cors_origins)
        allowed = {host_name(h) for h in admin.allowed_hosts}
        self.any_host = "*" in admin.allowed_hosts
        bound = host_name(bound_host)
        if bound not in WILDCARD_HOSTS:
            allowed.add(bound)
        self.hosts = frozenset(allowed)
        # a configured token is required on every admin surface, loopback included
        token = admin.token
        self._expected = None if token is None else b"Bearer " + token.encode()
        self.refused = new_refusal_counts() if refused is None else refused

    # ---- the checks -------------------------------------------------------------------------
    def host_allowed(self, host: str | None) -> bool:
        if host is None or self.any_host:
            return True
        return self._host_named(host)

    def _host_named(self, host: str) -> bool:
        """``host`` is the bound address, a loopback name or listed (not merely let in by ``*``)."""
        name = host_name(host)
        return name in self.hosts or is_loopback(name)

    def _own_origin(self, origin: str, host: str | None) -> bool:
        """The console's own call: same origin as the request, on a Host that no rebinding page
        can take. With ``allowed_hosts: ["*"]`` any name passes the Host check, so a same-origin
        call from an unlisted name counts only when a token is set (a rebinding page cannot read
        the token the console keeps in its own origin's ``sessionStorage``)."""
        if not _same_origin(origin, host):
            return False
        assert host is not None
        return self._expected is not None or self._host_named(host)

    def check(self, request: Request, sub: str) -> Response | None:
        """None when ``request`` may go on to the admin API; else the answer to give instead.
        ``sub`` is the path after ``/__mockforge/``. A CORS preflight is answered here."""
        headers = request.headers
        host = headers.get("host")
        if not self.host_allowed(host):
            return self._refuse("host", 403, "forbidden_host",
                                f"Host '{host}' may not call the admin API (add it to admin.allowed_hosts)",
                                "header.host")
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins and not self._own_origin(origin, host):
            return self._refuse("origin", 403, "forbidden_origin",
                                f"origin '{origin}' may not call the admin API (see admin.cors_origins)",
                                "header.origin")
        if request.method == "OPTIONS" and origin is not None and headers.get("access-control-request-method"):
            return self._preflight(origin)
        if self._expected is not None and not _console_file(request.method, sub):
            auth = (headers.get("authorization") or "").encode("utf-8", "replace")
            if not hmac.compare_digest(auth, self._expected):
                self.refused["token"] += 1
                return error_response(401, "unauthorized", "admin API needs 'Authorization: Bearer <admin.token>'")
        if request.body:
            media = _media_type(headers.get("content-type"))
            yaml_ok = sub.split("/", 1)[0] in YAML_SUBPATHS
            if not (_is_json(media) or (yaml_ok and media in YAML_TYPES)):
                accepted = "application/json or application/yaml" if yaml_ok else "application/json"
                return self._refuse("content_type", 415, "unsupported_media_type",
                                    f"admin request bodies must be {accepted}, not '{media or 'none'}'",
                                    "header.content-type")
        return None

    def add_cors(self, request: Request, resp: Response) -> None:
        """CORS headers on an admin answer to an allowed origin (``check`` passed)."""
        origin = request.headers.get("origin")
        if origin is not None and origin in self.origins and resp.source != "cors":
            resp.headers.append(("access-control-allow-origin", origin))
            resp.headers.append(("vary", "Origin"))

    # ---- answers ----------------------------------------------------------------------------
    def _preflight(self, origin: str) -> Response:
        headers = [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ADMIN_METHODS),
            ("access-control-allow-headers", ADMIN_HEADERS),
            ("access-control-max-age", PREFLIGHT_MAX_AGE),
            ("vary", "Origin"),
        ]
        return Response(status=204, headers=headers, source="cors")

    def _refuse(self, reason: str, status: int, code: str, message: str, location: str) -> Response:
        self.refused[reason] += 1
        if self.refused[reason] == 1:  # once per reason, so a hostile page cannot flood the log
            log.warning("admin API: refused a request (%s); later refusals are only counted", message)
        return error_response(status, code, message, [detail(location, message)])


# ---- start-up ------------------------------------------------------------------------------
def check_exposure(config: Config) -> None:
    """Refuse an admin listener off loopback without a token; warn about the other cases.

    Raises ``ConfigError`` (one line naming ``admin.token``) unless ``admin.insecure`` is set,
    which then logs a warning on every start.
    """
    admin = config.admin
    where = config.source or "<config>"
    if config.admin_listener_port() is not None and not is_loopback(admin.host) and admin.token is None:
        if not admin.insecure:
            raise ConfigError(
                f"the admin listener on {admin.host or '*'} is off loopback and has no token: set admin.token "
                "(or MOCKFORGE_ADMIN_TOKEN), bind admin.host to 127.0.0.1, or set admin.insecure: true",
                file=where,
                where="admin.token",
            )
        log.warning("admin.insecure: the admin listener on %s has no token; anyone who can reach it "
                    "can change every answer and read the request log", admin.host)
    if not is_loopback(config.http.host) and admin.token is None:
        if admin.insecure:
            log.warning("admin.insecure: the admin API is open without a token on the HTTP port at %s",
                        config.http.host)
        else:
            log.warning("the HTTP port listens on %s, off loopback, and admin.token is not set: the admin "
                        "paths (/__mockforge/*) are off there", config.http.host)


def admin_open_on(config: Config, host: str, *, admin_only: bool) -> bool:
    """Whether the admin paths answer on a listener bound to ``host`` (else 404)."""
    admin = config.admin
    return admin_only or is_loopback(host) or admin.token is not None or admin.insecure
