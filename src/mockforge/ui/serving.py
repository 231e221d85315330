"""``GET /__mockforge/ui/`` and ``/__mockforge/ui/assets/<path>``: the console's files.

The files are read on demand from ``assets/`` next to this module, through ``core/files.py``
(``FileRoots`` rooted at that folder: ``..``, symlinks leading out, FIFOs and devices are refused),
and only names made of plain segments with a known extension are looked up at all: anything else
is a 404 without touching the disk. Every answer, 404s included, carries the console's security
headers (a strict Content-Security-Policy: no inline script or style, no remote origin).

The shell (HTML, JS, CSS) holds no data, so it loads without the admin token; every data call the
page makes goes to the admin API, which needs it (``http/admin_guard.py``). Files are small and
read per request off the event loop; an ``ETag`` (a hash of the bytes) lets the browser revalidate
with ``Cache-Control: no-cache`` and get a 304.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from mockforge.core.files import FileAccessError, FileRoots
from mockforge.core.model import Request, Response
from mockforge.core.responses import error_response

ASSETS = Path(__file__).resolve().parent / "assets"
#: The largest asset read (the console's files are a few kB each).
MAX_ASSET_BYTES = 1024 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
_SEGMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_roots: FileRoots | None = None


def _assets_roots() -> FileRoots:
    global _roots
    if _roots is None:
        _roots = FileRoots.of([ASSETS], MAX_ASSET_BYTES)
    return _roots


def secure(resp: Response) -> Response:
    """Add the console's security headers to ``resp``."""
    resp.headers.extend(SECURITY_HEADERS)
    return resp


def not_found(path: str) -> Response:
    return secure(error_response(404, "not_found", f"no console file at {path}"))


def asset_name(rel: str) -> str | None:
    """``rel`` (after ``ui/assets/``) when it is a plain relative name with a known extension:
    segments of letters, digits, ``-``, ``_`` and ``.``, none empty or starting with a dot."""
    if not rel or len(rel) > 200:
        return None
    parts = rel.split("/")
    for part in parts:
        if not part or part[0] == "." or not set(part) <= _SEGMENT_CHARS:
            return None
    return rel if Path(parts[-1]).suffix in CONTENT_TYPES else None


async def answer(request: Request, sub: str) -> Response:
    """Answer an admin request whose subpath (after ``/__mockforge/``) is ``ui`` or ``ui/...``.
    ``request.path`` is the raw path; ``sub`` has lost its trailing slash."""
    if request.method not in ("GET", "HEAD"):
        resp = error_response(405, "method_not_allowed", f"{request.method} is not allowed on the console",
                              None, [("allow", "GET, HEAD")])
        return secure(resp)
    if sub == "ui":
        if not request.path.endswith("/"):  # relative asset URLs need the trailing slash
            return secure(Response(status=308, headers=[("location", "/__mockforge/ui/")], source="admin"))
        rel: str | None = "index.html"
    elif sub.startswith("ui/assets/"):
        rel = asset_name(sub[len("ui/assets/"):])
    else:
        rel = None
    if rel is None:
        return not_found(request.path)
    try:
        body = await asyncio.to_thread(_read, rel)
    except FileAccessError:
        return not_found(request.path)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = [("cache-control", "no-cache"), ("etag", etag)]
    if request.headers.get("if-none-match") == etag:
        return secure(Response(status=304, headers=headers, source="admin"))
    headers.append(("content-type", CONTENT_TYPES[Path(rel).suffix]))
    return secure(Response(status=200, headers=headers, body=body, source="admin"))


def _read(rel: str) -> bytes:
    roots = _assets_roots()
    return roots.read(roots.check(rel, base=ASSETS, what="console file"), limit=MAX_ASSET_BYTES)
