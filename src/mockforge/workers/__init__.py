"""Several worker processes serving the same ports (``core.workers``, docs/SCALING.md).

``supervisor.py`` binds the shared ports once, starts the workers (``child.py``, a fresh
interpreter each: ``subprocess``, never ``fork`` after an event loop exists), restarts the ones
that die and stops them all on SIGTERM/SIGINT; ``sockets.py`` decides how a port is shared.
Nothing here is imported with one worker (the default).
"""
