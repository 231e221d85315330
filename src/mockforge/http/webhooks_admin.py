"""``POST /__mockforge/webhooks/{name}`` with ``{"url": "...", "method": "POST"}``: fire the spec's
3.1 webhook ``name`` at ``url`` (an allowed host, ``http.callbacks.allow_hosts``) with a body from
its example or schema, and answer how it went (docs/ADMIN_API.md). ``GET /__mockforge/webhooks``
lists the webhooks of the spec in use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, error_response, json_response

if TYPE_CHECKING:
    from mockforge.http.callbacks import CallbackSender
    from mockforge.openapi.model import ApiModel


async def fire_webhook(model: ApiModel | None, sender: CallbackSender | None, request: Request,
                       sub: str) -> Response | None:
    if sub == "webhooks":
        if request.method != "GET":
            return error_response(405, "method_not_allowed", "GET /__mockforge/webhooks", headers=[("allow", "GET")])
        hooks = model.webhooks if model is not None else {}
        return json_response({"webhooks": [{"name": name, "methods": [s.method for s in specs]}
                                           for name, specs in hooks.items()]})
    name = sub[len("webhooks/"):]
    if not name or "/" in name:
        return None
    if request.method != "POST":
        return error_response(405, "method_not_allowed", "POST /__mockforge/webhooks/{name}",
                              headers=[("allow", "POST")])
    if model is None or sender is None or name not in model.webhooks:
        known = ", ".join(sorted(model.webhooks)[:20]) if model is not None else ""
        return error_response(404, "not_found", f"no webhook named {name[:80]!r} in the spec",
                              [detail("path.name", f"known: {known or 'none'}")])
    body: Any = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return error_response(400, "bad_request", 'expected a JSON object {"url": "http://..."}',
                              [detail("body.url", "a string is required")])
    method = body.get("method")
    if method is not None and not isinstance(method, str):
        return error_response(400, "bad_request", "method must be a string", [detail("body.method", "not a string")])
    try:
        outcome = await sender.send_webhook(model, name, body["url"], method)
    except KeyError:
        methods = ", ".join(s.method for s in model.webhooks[name])
        return error_response(400, "bad_request", f"webhook {name[:80]} has no {str(method)[:10]} request",
                              [detail("body.method", f"one of: {methods}")])
    if outcome is None:
        return error_response(503, "too_many_callbacks", "http.callbacks.max_in_flight callbacks are in flight")
    status = 200 if outcome.delivered else 403 if outcome.attempts == 0 else 502
    return json_response({"webhook": name, **outcome.to_dict()}, status)
