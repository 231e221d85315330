"""The web console served under ``/__mockforge/ui/`` (docs/UI.md)."""
