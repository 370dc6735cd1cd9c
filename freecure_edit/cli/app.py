"""The command group. Kept free of torch and diffusers imports so that `--help` answers at once: each
command imports what it needs when it runs."""

from __future__ import annotations

import click

from freecure_edit import __version__
from freecure_edit.cli.batch import batch
from freecure_edit.cli.doctor import doctor
from freecure_edit.cli.eval import eval_command
from freecure_edit.cli.explain import explain
from freecure_edit.cli.faces import faces
from freecure_edit.cli.failures import OneLineErrorsGroup
from freecure_edit.cli.fix import fix
from freecure_edit.cli.generate import generate
from freecure_edit.cli.messages import PROGRAM
from freecure_edit.cli.ui import ui
from freecure_edit.cli.worker import worker


@click.group(PROGRAM, cls=OneLineErrorsGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name=PROGRAM)
def cli() -> None:
    """Cure missing facial attributes (hair, glasses, eye colour, expression...) in existing photos.

    Exit codes: 0 success, 1 unexpected error, 2 usage error, 3 bad input image, 4 missing model,
    5 out of memory, 6 identity below the threshold, 7 disk full, 130 interrupted.
    """


cli.add_command(fix)
cli.add_command(batch)
cli.add_command(generate)
cli.add_command(explain)
cli.add_command(faces)
cli.add_command(doctor)
cli.add_command(worker)
cli.add_command(ui)
cli.add_command(eval_command)


def main() -> None:
    cli(prog_name=PROGRAM)
