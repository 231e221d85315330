"""State shared by replicas through Redis (``core.shared_state``; docs/SHARED_STATE.md).

Imported only when ``core.shared_state`` is a Redis URL: ``redis`` is never loaded otherwise.
The core sees this package only through ``core/shared_state.py``'s ``SharedState`` Protocol.
"""
