"""The web console (docs/UI.md): static assets served from the admin surfaces and the live feed.

Nothing here is imported until the first ``/__mockforge/ui`` (``serving.py``) or
``/__mockforge/events`` (``feed.py``) request, or the first ``/__mockforge/stats/series``
(``series.py``, the Overview's rate samples): ``http/admin.py`` imports these modules inside its
handlers, so a server nobody opens the console on pays nothing for it.
"""
