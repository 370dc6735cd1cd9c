"""`freecure-edit batch INPUT_DIR -o OUTPUT_DIR`: cure every photo of a folder, resumably, in one
process or several.

Only the options are declared here; the work is the library's (freecure_edit.batch), imported when
the command runs so that `--help` never loads torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from freecure_edit.cli.config_options import config_values, cure_config_options, explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option, metadata_option
from freecure_edit.cli.model_options import model_options, model_values
from freecure_edit.cure.presets import DRAFT_HELP

FORMATS = ("png", "jpg", "webp")


@click.command("batch")
@click.argument("input_dir", metavar="INPUT_DIR", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "output_dir", required=True, type=click.Path(path_type=Path),
              metavar="OUTPUT_DIR", help="Where the outputs go, in the input folder's layout, with manifest.jsonl.")
@click.option("-p", "--prompt", help="The prompt for every image (or for those --prompts gives none).")
@click.option("--prompts", "prompts_file", type=click.Path(path_type=Path), metavar="FILE",
              help="A CSV (header: file,prompt,...) or JSONL file: a prompt per file, relative to INPUT_DIR, "
                   "and optionally its own settings (any cure option, output, jpeg_quality).")
@click.option("--recursive", is_flag=True, help="Take the images in subfolders too.")
@click.option("--glob", "patterns", multiple=True, metavar="PATTERN",
              help="Only files whose path matches, e.g. '*.jpg' (at any depth); repeat for several  "
                   "[default: every image file]")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="png", show_default=True,
              help="The outputs' format (a prompts-file output name may choose another).")
@click.option("--resume", is_flag=True,
              help="Go on with an earlier batch in OUTPUT_DIR: keep the inputs done with the same parameters, "
                   "redo the others.")
@click.option("--overwrite", is_flag=True, help="Start again in an OUTPUT_DIR that holds outputs or a batch.")
@click.option("--dry-run", is_flag=True,
              help="List the files, what each prompt cures and the outputs; load no model, write nothing.")
@click.option("--num-processes", type=click.IntRange(min=1), metavar="N",
              help="Share the batch out between N processes (one per GPU, or CPU processes), started with "
                   "accelerate.")
@click.option("--draft", is_flag=True, help=DRAFT_HELP)
@cure_config_options
@model_options
@jpeg_quality_option
@metadata_option
@max_pixels_option
@click.option("--debug", is_flag=True, help="Show tracebacks and the libraries' own messages.")
@click.pass_context
def batch(context: click.Context, **params) -> None:
    """Cure the photos in INPUT_DIR (with --recursive, its subfolders too) into OUTPUT_DIR.

    Every input gets a line in OUTPUT_DIR/manifest.jsonl: its status (ok, failed, low_identity,
    skipped), output, parameters, identity similarity, time and error. A bad file is recorded and the
    batch goes on; the exit code is non-zero when an input failed. --resume redoes exactly the inputs
    without an ok line for the same parameters, after a failure, a change or a killed run.
    """
    code = 0
    with reported_errors(params["debug"]):
        from freecure_edit.batch.plan import NoPromptError

        try:
            code = _run(context, params)
        except NoPromptError as error:
            raise click.UsageError(str(error), ctx=context) from None
    if code:
        raise click.exceptions.Exit(code)


def _run(context: click.Context, params: dict[str, Any]) -> int:
    settings = batch_settings(params, explicitly_given(context))
    if params["dry_run"]:
        from freecure_edit.cli.batch.report import print_dry_run

        print_dry_run(settings)
        return 0
    if (params["num_processes"] or 1) > 1:
        from freecure_edit.batch import launch_batch, plan_batch
        from freecure_edit.cli.batch.relaunch import command_line

        plan_batch(settings, None)  # every refusal before the processes start
        program = ["-m", "freecure_edit.cli", "batch", *command_line(context, leave_out={"num_processes"})]
        return launch_batch(program, params["num_processes"], device=params["device"], debug=params["debug"])
    from freecure_edit.cli.batch.report import run_and_report

    return run_and_report(settings)


def batch_settings(params: dict[str, Any], given: set[str]):
    from freecure_edit.batch.settings import BatchSettings

    return BatchSettings(
        params["input_dir"], params["output_dir"], prompt=params["prompt"], prompts_file=params["prompts_file"],
        recursive=params["recursive"], patterns=params["patterns"], output_format=params["output_format"],
        resume=params["resume"], overwrite=params["overwrite"], config=config_values(params),
        given=frozenset(given), draft=params["draft"], models=model_values(params),
        jpeg_quality=params["jpeg_quality"], metadata=params["metadata"], max_pixels=params["max_pixels"],
        debug=params["debug"],
    )


def build_plan(params: dict[str, Any], given: set[str], device_type: str | None):
    """The library's plan of the batch these parameters ask for."""
    from freecure_edit.batch import plan_batch

    return plan_batch(batch_settings(params, given), device_type)
