"""Moved to freecure_edit.overrides (a prompts-file row, a worker request and a web form read their
settings with the same code); kept for the imports that still name this module."""

from freecure_edit.overrides import LIST_SEPARATOR, Overrides, read_overrides

__all__ = ["LIST_SEPARATOR", "Overrides", "read_overrides"]
