"""`freecure-edit fix`: the options (command.py), the run (run.py), the phase bars (progress.py) and what
it prints after (report.py); the cure is the library's."""

from freecure_edit.cli.fix.command import fix

__all__ = ["fix"]
