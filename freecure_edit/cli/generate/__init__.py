"""`freecure-edit generate`: the options (command.py) and the run (run.py); the method is the library's
(freecure_edit/generation)."""

from freecure_edit.cli.generate.command import generate

__all__ = ["generate"]
