"""Drift: where a real backend, its OpenAPI document and the recordings disagree (issue 16).

``findings.py`` holds the finding model, ``checker.py`` checks one exchange (a request and the
upstream's answer) against the spec. Imported only when ``http.drift.mode`` is not ``off`` or a
``mockforge drift`` command runs.
"""
