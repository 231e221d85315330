"""WebSocket mocks: echo, JSON echo, scripted replay and rules (see ``hub.py``).

Import from the owning module (``mockforge.ws.hub.WebSocketHub``, ``mockforge.ws.listener.WsOnlyApp``);
this package imports nothing so that an HTTP-only server never loads ``websockets``.
"""
