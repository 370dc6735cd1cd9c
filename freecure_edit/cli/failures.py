"""Every failure ends as one line on stderr and a documented exit code (the library's mapping,
freecure_edit/failures.py, plus click's usage errors); a traceback only with --debug."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from freecure_edit.cli.messages import error_line
from freecure_edit.failures import EXIT_INTERRUPTED, describe_failure


@contextmanager
def reported_errors(debug: bool, on_failure: Callable[[int, str], None] | None = None) -> Iterator[None]:
    """Run a command's work; turn any exception into its line on stderr and exit code.

    `on_failure(code, message)` runs before exiting, e.g. to print the JSON result of a failed run.
    """
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except (Exception, KeyboardInterrupt) as error:
        code, message = describe_failure(error)
        if debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        error_line(message)
        if on_failure is not None:
            on_failure(code, message)
        raise click.exceptions.Exit(code) from None


class OneLineErrorsGroup(click.Group):
    """A click group whose usage errors are one line too, and which always ends with sys.exit(code).

    Overriding `main` (rather than wrapping the console script) makes click's CliRunner go through it.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            code = error.exit_code
        except click.UsageError as error:
            path = error.ctx.command_path if error.ctx is not None else self.name
            error_line(f"{error.format_message()} (see '{path} --help')")
            code = error.exit_code
        except click.ClickException as error:
            error_line(error.format_message())
            code = error.exit_code
        except click.Abort:
            error_line("interrupted")
            code = EXIT_INTERRUPTED
        code = code if isinstance(code, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)
