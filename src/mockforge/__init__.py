"""mockforge: a multi-protocol API mock server."""

__version__ = "0.1.0"
