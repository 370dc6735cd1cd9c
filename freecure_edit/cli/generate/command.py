"""`freecure-edit generate --id-image REF --prompt TEXT [-o OUT]`: generate the person in REF with
IP-Adapter FaceID and cure the attributes the adapter suppresses. Options only; the work is in run.py."""

from __future__ import annotations

import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path

import click

from freecure_edit.cli.config_options import config_options_for, explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option
from freecure_edit.cli.model_options import model_options

# The settings of the cure that mean something for a generation (generation/run.py ignores the others).
GENERATION_FIELDS = ("steps", "guidance", "pd_guidance", "omega", "strength", "fasa_layers", "fasa_steps", "gamma",
                     "mask_source", "mask_dilation_px", "mask_feather_px", "attributes", "template",
                     "fd_cache_device", "working_size", "draft_steps")


@click.command("generate")
@click.option("--id-image", type=click.Path(path_type=Path), metavar="REF",
              help="A photo of the person: the face pack's embedding of its largest face is the identity.")
@click.option("-p", "--prompt", help="The prompt, e.g. 'a photo of a woman with red curly hair, smiling'.")
@click.option("--prompts", type=click.Path(path_type=Path), metavar="FILE",
              help="Many generations: a CSV (with a header) or JSONL file of rows id_image, prompt, and optionally "
                   "seed and output; -o is then the folder they go into.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Where to write (.png, .jpg, .jpeg, .webp), or with --prompts the output folder  "
                   "[default: REF-stem.generated-SEED.png next to REF]")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file (never the reference).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The seed of the shared starting noise (with --prompts, of rows that give none).")
@click.option("--adapter", default="h94/IP-Adapter-FaceID", show_default=True,
              help="The IP-Adapter FaceID: a Hub id (from the Hugging Face cache), a folder or one .bin/.safetensors file.")
@click.option("--adapter-weight-name", help="The file inside --adapter  [default: ip-adapter-faceid_sd15.bin on SD 1.x, "
                                           "ip-adapter-faceid_sdxl.bin on SDXL, or a folder's only adapter file]")
@click.option("--image-encoder", help="For FaceID Plus / PlusV2: the CLIP image encoder that reads the reference (Hub id or "
                                     "folder)  [default: laion/CLIP-ViT-H-14-laion2B-s32B-b79K]")
@config_options_for(GENERATION_FIELDS, defaults={"mask_source": "fd"})
@model_options
@click.option("--save-intermediates", type=click.Path(path_type=Path), metavar="DIR",
              help="Also write the personalized image without the cure, the foundation image and the masks into DIR.")
@jpeg_quality_option
@max_pixels_option
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with the result on stdout, and nothing else there.")
@click.option("--debug", is_flag=True, help="Show tracebacks and the libraries' own messages.")
@click.pass_context
def generate(context: click.Context, **params) -> None:
    """Generate the person in REF as PROMPT asks, with IP-Adapter FaceID, and cure what it loses.

    The personalized model and the same model without the identity start from one noise; inside the
    attribute masks the personalized one borrows the foundation's attributes (FASA), and expressions
    are re-inverted with the prompt (APG). Runs on SD 1.x and SDXL.
    """
    from freecure_edit.cli.fix.report import failure_json

    as_json, debug = params["as_json"], params["debug"]
    print_failure = (lambda code, message: click.echo(failure_json(code, message))) if as_json else None
    with reported_errors(debug, on_failure=print_failure):
        from freecure_edit.cli.generate.run import report_generation, run_generate, summary_line

        rows = params["prompts"] is not None
        show = None if as_json else (lambda item: click.echo(summary_line(item)))
        with redirect_stdout(sys.stderr) if as_json else nullcontext():
            outcome = run_generate(params, explicitly_given(context), on_item=show)
        report_generation(outcome, as_json=as_json, rows=rows)
    if outcome.exit_code:
        # Each failed row was named above; the batch's code is theirs (3 for bad references), or 1.
        raise click.exceptions.Exit(outcome.exit_code)
