"""`freecure-edit batch`: the options (command.py), Ctrl-C and SIGTERM (signals.py), the progress bar and
the summary (report.py), the processes' command line (relaunch.py). The work is freecure_edit.batch's."""

from freecure_edit.cli.batch.command import batch

__all__ = ["batch"]
