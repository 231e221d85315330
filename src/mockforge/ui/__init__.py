"""The web console (docs/UI.md): static assets served from the admin surfaces and the live feed.

Nothing here is imported until the first ``/__mockforge/ui`` (``serving.py``) or
``/__mockforge/events`` (``feed.py``) request: ``http/admin.py`` imports these modules inside its
handlers, so a server nobody opens the console on pays nothing for it.
"""
