"""What the commands say besides their result: notes, warnings and errors, one line each, on stderr.

stdout carries only a command's result (the summary, or the JSON with --json), so that it can be piped.
"""

from __future__ import annotations

import click

from freecure_edit.failures import one_line

PROGRAM = "freecure-edit"


def note(text: str) -> None:
    click.echo(f"{PROGRAM}: note: {one_line(text)}", err=True)


def warn(text: str) -> None:
    click.echo(f"{PROGRAM}: warning: {one_line(text)}", err=True)


def error_line(text: str) -> None:
    click.echo(f"{PROGRAM}: error: {one_line(text)}", err=True)
