"""The `freecure-edit` command line. Each command lives in its own module and imports heavy parts lazily."""

from freecure_edit.cli.app import main

__all__ = ["main"]
