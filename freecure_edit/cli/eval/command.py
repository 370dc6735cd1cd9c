"""`freecure-edit eval INPUT -o OUTPUT`: the paper's measurements (PC, IF, hMean, face diversity) of
the input, FD, the cure and peers, on photos x prompts x seeds, with tables and a report.

Only the options are declared here; the run is in run.py, imported when the command runs so that
`--help` never loads torch.
"""

from __future__ import annotations

from pathlib import Path

import click

from freecure_edit.cli.failures import reported_errors

# Repeated from freecure_edit.evaluation so that --help stays light.
DEFAULT_METHODS = ("input", "fd", "cure", "ledits", "img2img")
DEFAULT_METRICS = "clip,arcface,lpips,psnr"
DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


@click.command("eval")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "output_dir", required=True, type=click.Path(path_type=Path), metavar="OUTPUT_DIR",
              help="Where results.jsonl, summary.json, report.html and images/ go.")
@click.option("-p", "--prompt", "prompts", multiple=True, metavar="TEXT",
              help="A prompt (repeat for several; <S> is the subject)  [default: the paper's 20 prompts]")
@click.option("--prompts", "prompt_file", type=click.Path(path_type=Path), metavar="FILE",
              help="A CSV (with a 'prompt' column) or JSONL ({\"prompt\": ...}) file of prompts.")
@click.option("--subject", default="person", show_default=True, help="What <S> in a prompt stands for.")
@click.option("-m", "--method", "methods", multiple=True, metavar="SPEC",
              help="A method to compare: input, fd, cure, ledits, img2img; settings after a colon, e.g. "
                   "'cure:method=rofa,omega=1' or 'img2img:strength=0.3' (repeat)  "
                   f"[default: {', '.join(DEFAULT_METHODS)}]")
@click.option("--metrics", default=DEFAULT_METRICS, show_default=True,
              help="Comma-separated: clip (PC), arcface (IF, insightface), dlib (IF, the dlib face pack), lpips "
                   "(face diversity), psnr (outside the mask), toy (the toy world's judges: PC and IF).")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds, e.g. 0,1,2.")
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help=f"A base model (Hub id, diffusers folder, .safetensors); repeat for several  [default: {DEFAULT_MODEL}]")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Sampling steps of every method.  [default: the model's: 50 on SD and SDXL, 28 on FLUX.1-dev, "
                   "4 on FLUX.1-schnell]")
@click.option("--guidance", type=click.FloatRange(min=1.0), default=None,
              help="Classifier-free guidance of the cure's two branches and of the peers (FLUX.1-dev: its "
                   "guidance embedding).  [default: the model's: 7.5 on SD and SDXL (on SD 1.x the cure's "
                   "foundation branch runs at 4), 3.5 on FLUX.1-dev]")
@click.option("--working-size", type=click.IntRange(min=8),
              help="The side every method works at  [default: the model's native size]")
@click.option("--parser", type=click.Choice(("segformer", "bisenet")), default="segformer", show_default=True,
              help="The cure's face parser.")
@click.option("--parser-model", help="The parser's weights (Hub id or folder; a .pth for bisenet).")
@click.option("--clip-model", help="The CLIP model of PC  [default: openai/clip-vit-large-patch14]")
@click.option("--face-pack", default="antelopev2", show_default=True, help="The insightface pack of IF (or buffalo_l).")
@click.option("--face-root", type=click.Path(path_type=Path), help="Where the pack is  [default: ~/.insightface]")
@click.option("--lpips-net", type=click.Choice(("alex", "vgg", "squeeze")), default="alex", show_default=True,
              help="The LPIPS backbone of face diversity.")
@click.option("--toy-judges", type=click.Path(path_type=Path), help="The toy world's judges folder (metric toy).")
@click.option("--device", help="cuda, cuda:1, mps or cpu  [default: cuda, then mps, then cpu]")
@click.option("--dtype", type=click.Choice(("fp16", "bf16", "fp32")), help="[default: fp16 on a GPU, fp32 on the CPU]")
@click.option("--resume", is_flag=True, help="Go on with the evaluation in OUTPUT_DIR, skipping the results it has.")
@click.option("--overwrite", is_flag=True, help="Start again in an OUTPUT_DIR that holds an evaluation.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout, and nothing else.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def eval_command(**params) -> None:
    """Measure the cure against the input, FD and peers on the photos in INPUT (a folder, or one photo).

    Writes OUTPUT_DIR/results.jsonl (a line per model x photo x prompt x method x seed: PC, IF, hMean,
    face diversity, PSNR outside the mask, evaluations, seconds, peak memory, warnings), summary.json
    (Table 1 per base model, Table 2 by number of attributes) and report.html. --resume continues a
    stopped run without counting anything twice.
    """
    with reported_errors(params["debug"]):
        from freecure_edit.cli.eval.run import run

        run(params)
