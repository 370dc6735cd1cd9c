"""`freecure-edit batch INPUT_DIR -o OUTPUT_DIR`: cure every photo of a folder, resumably, in one
process or several.

Only the options are declared here; the work is in batch_run.py (and batch_dry_run.py,
batch_launch.py), imported when the command runs so that `--help` never loads torch.
"""

from __future__ import annotations

from pathlib import Path

import click

from freecure_edit.cli.config_options import cure_config_options, explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option
from freecure_edit.cli.model_options import model_options
from freecure_edit.cli.presets import DRAFT_HELP

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
        given = explicitly_given(context)
        if params["dry_run"]:
            from freecure_edit.cli.batch_dry_run import dry_run

            dry_run(params, given)
        elif (params["num_processes"] or 1) > 1:
            from freecure_edit.cli.batch_launch import launch_processes
            from freecure_edit.cli.batch_plan import build_plan

            build_plan(params, given, None)  # every refusal before the processes start
            code = launch_processes(context, params, params["num_processes"])
        else:
            from freecure_edit.cli.batch_run import run_batch

            code = run_batch(params, given)
    if code:
        raise click.exceptions.Exit(code)
