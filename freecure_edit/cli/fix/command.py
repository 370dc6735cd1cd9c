"""`freecure-edit fix INPUT --prompt TEXT [-o OUTPUT]`: cure the attributes the prompt names.

Only the options are declared here; the work is in run.py, imported when the command runs so
that `--help` never loads torch.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import click

from freecure_edit.cli.config_options import cure_config_options, explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option, metadata_option
from freecure_edit.cli.messages import error_line
from freecure_edit.cli.model_options import model_options
from freecure_edit.cure.presets import DRAFT_HELP


@click.command("fix")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-p", "--prompt", required=True,
              help="The full prompt, e.g. 'a woman with black curly hair, laughing happily'.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write (.png, .jpg, .jpeg, .webp)  [default: INPUT-stem.cured.png next to INPUT]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file (never the input).")
@click.option("--draft", is_flag=True, help=DRAFT_HELP)
@cure_config_options
@model_options
@click.option("--save-intermediates", type=click.Path(path_type=Path), metavar="DIR",
              help="Also write the foundation image, the reconstruction and the masks as PNGs into DIR.")
@jpeg_quality_option
@metadata_option
@max_pixels_option
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with the result on stdout, and nothing else there.")
@click.option("--debug", is_flag=True, help="Show tracebacks and the libraries' own messages.")
@click.pass_context
def fix(context: click.Context, **params) -> None:
    """Cure the facial attributes PROMPT names in the photo INPUT.

    The photo is inverted with the prompt's subject, regenerated with the full prompt, and the
    attributes are carried over inside their masks; every other pixel is the input's.
    """
    from freecure_edit.cli.fix.report import failure_json

    as_json, debug = params["as_json"], params["debug"]
    print_failure = (lambda code, message: click.echo(failure_json(code, message))) if as_json else None
    with reported_errors(debug, on_failure=print_failure):
        from freecure_edit.cli.fix.run import report_outcome, run_fix

        # With --json, stdout is the JSON alone: anything else printed meanwhile goes to stderr.
        with redirect_stdout(sys.stderr) if as_json else nullcontext():
            outcome = run_fix(params, explicitly_given(context))
        report_outcome(outcome, as_json=as_json)
        failure = outcome.failure
    if failure is not None:
        # Reported here rather than raised into reported_errors: the JSON above already describes it.
        error_line(str(failure))
        raise click.exceptions.Exit(failure.exit_code)
