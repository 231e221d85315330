"""Stateful mocks (issue 15): what a client creates, it can read, change, list and delete.

``inference.py`` finds the resources of an OpenAPI model (a collection path with an item path
below it) and says why; ``store.py`` is the small store interface with its in-memory backend;
``cli.py`` is ``mockforge state plan``. Nothing here is imported while ``http.state.mode`` is
``off`` (the default), so state costs nothing unless turned on.
"""
