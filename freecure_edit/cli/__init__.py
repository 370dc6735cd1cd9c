"""The `freecure-edit` command line. Each command lives in its own module and imports heavy parts lazily.

The outermost front end: may import every other part; nothing imports it but its own entry point.
"""

from freecure_edit.cli.app import main

__all__ = ["main"]
