"""The command group. Kept free of torch and diffusers imports so that `--help` answers at once."""

from __future__ import annotations

import click

from freecure_edit import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="freecure-edit")
def cli() -> None:
    """Cure missing facial attributes (hair, glasses, eye colour, expression...) in existing photos."""


def main() -> None:
    cli()
