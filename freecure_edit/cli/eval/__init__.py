"""`freecure-edit eval`: the options (command.py) and the run with its progress bar (run.py); the
evaluation is the library's (freecure_edit.evaluation)."""

from freecure_edit.cli.eval.command import DEFAULT_METHODS, DEFAULT_METRICS, DEFAULT_MODEL, eval_command

__all__ = ["DEFAULT_METHODS", "DEFAULT_METRICS", "DEFAULT_MODEL", "eval_command"]
