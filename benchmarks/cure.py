"""Cost of a whole cure, phase by phase, measured in one run.

    python benchmarks/cure.py --model tiny
    python benchmarks/cure.py --model sd15 --size 256 --steps 2 4
    python benchmarks/cure.py --model sd15 --size 256 --steps 4 20 --against-ledits

For each configuration it prints denoiser evaluations per phase and in total (and per step, against a
plain guided generation's 2), the fixed seconds and seconds per step fitted over two step counts with
the extrapolation to 50 steps, wall time divided by (evaluations x the time of one evaluation), the FD
key/value cache, and peak memory against a plain generation at the same size. Every configuration runs
in its own process, so each peak is its own. Seconds are also given per phase, the autoencoder's
passes and the parser's as phases of their own. `--against-ledits` instead times the default cure and
diffusers' LEDITS++ (the same UNet, the prompt's attributes as edit concepts) at both step counts in
one process, and prints their evaluations and the ratio of wall times. The face parser is a SegFormer of the real model's shape
(MiT-b5) with random weights, loaded through the project's loader, so that its cost is real too; its
masks are then replaced by the top third of the image (it finds no hair), so that FASA really runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PROMPT = "a woman with black curly hair, laughing happily"
CONFIGURATIONS = {
    "default (PD with CFG, APG branch)": {},
    "PD at guidance 1": {"pd_guidance": 1.0},
    "APG re-invert": {"apg": "reinvert"},
    "method rofa": {"method": "rofa"},
}
# Only where there is a GPU does it matter where the FD cache waits.
GPU_ONLY_CONFIGURATIONS = {"FD cache on CPU": {"fd_cache_device": "cpu"}}


def random_segformer(folder: Path, tiny: bool) -> Path:
    """A SegFormer parser with random weights: MiT-b5's shape, or a 2-stage toy for the tiny model."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from freecure_edit.masks import CANONICAL_LABELS

    torch.manual_seed(0)
    shape = (
        dict(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3],
             strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16)
        if tiny else
        dict(depths=[3, 6, 40, 3], hidden_sizes=[64, 128, 320, 512], decoder_hidden_size=768)
    )
    config = SegformerConfig(num_labels=len(CANONICAL_LABELS), id2label=dict(enumerate(CANONICAL_LABELS)),
                             label2id={n: i for i, n in enumerate(CANONICAL_LABELS)}, **shape)
    SegformerForSemanticSegmentation(config).save_pretrained(folder)
    size = 64 if tiny else 512
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "SegformerImageProcessor", "size": {"height": size, "width": size},
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_normalize": True,
    }))
    return folder


def hair_on_top_callbacks():
    """The random parser finds no hair, and an empty mask skips FASA (it would cost 0 photo-pass
    evaluations): after the parser has run, so its cost counts, each mask becomes the top third of the
    image, so that the FASA pass is timed as a real cure runs it."""
    from freecure_edit import CureCallbacks

    def top_third(context):
        masks = {}
        for name, mask in context.masks.items():
            painted = mask * 0
            painted[: max(1, mask.shape[0] // 3)] = 1
            masks[name] = painted
        return masks

    return CureCallbacks(on_masks=top_third)


def measure_cure(model: str, overrides: dict, size: int, steps: list[int]) -> dict:
    import PIL.Image
    import skimage.data

    from common import load_benchmark_pipeline, peak_memory_mib, seconds_per_evaluation
    from freecure_edit import CureConfig, FreeCure

    workdir = Path(tempfile.mkdtemp())
    pipe = load_benchmark_pipeline(model, workdir)
    parser_folder = random_segformer(workdir / "parser", tiny=model != "sd15")
    fc = FreeCure(pipe, parser="segformer", parser_model=str(parser_folder))
    photo = PIL.Image.fromarray(skimage.data.astronaut()).resize((size, size), PIL.Image.LANCZOS)

    runs = []
    for count in steps:
        fc._inversions.clear()
        config = CureConfig(steps=count, working_size=size, **overrides)
        started = time.perf_counter()
        result = fc.cure(photo, PROMPT, config, callbacks=hair_on_top_callbacks())
        runs.append((count, time.perf_counter() - started, result))
    count, wall, result = runs[-1]
    stats = result.stats
    latent_shape = (1, 4, size // fc.backbone.vae_scale_factor, size // fc.backbone.vae_scale_factor)
    per_eval_1 = seconds_per_evaluation(fc.backbone, latent_shape, batch=1)
    per_eval_2 = seconds_per_evaluation(fc.backbone, latent_shape, batch=2)
    guided = (overrides.get("pd_guidance", 7.5) != 1.0)
    # Every phase runs batches of two rows except PD at guidance 1 (one row) and the inversion's
    # template-only rows at guidance 1.
    pair_evals = stats.total_evaluations - (stats.evaluations.get("fasa", 0) if not guided else 0)
    if not guided:
        pair_evals -= stats.evaluations.get("inversion", 0)
    single_evals = stats.total_evaluations - pair_evals
    ideal = single_evals * per_eval_1 + pair_evals * per_eval_2
    from common import fit_fixed_and_per_step

    fixed, per_step = fit_fixed_and_per_step([(n, w) for n, w, _ in runs])
    return {
        "evaluations": stats.evaluations,
        "total_evaluations": stats.total_evaluations,
        "steps": count,
        "wall_s": wall,
        "phase_seconds": stats.seconds,
        "fixed_s": fixed,
        "per_step_s": per_step,
        "seconds_per_evaluation": per_eval_1,
        "wall_over_ideal": wall / ideal,
        "overhead_at_50": (fixed + 50 * per_step) / (50 * ideal / count) - 1,
        "fd_cache_mib": stats.fd_cache_bytes / 2**20,
        "peak_mib": peak_memory_mib(),
    }


def counting_unet_rows(unet) -> dict:
    """Count the rows the UNet is called on (LEDITS++ has no counter of its own)."""
    counts = {"rows": 0}
    forward = unet.forward

    def counted(sample, *args, **kwargs):
        counts["rows"] += sample.shape[0]
        return forward(sample, *args, **kwargs)

    unet.forward = counted
    return counts


def measure_against_ledits(model: str, size: int, steps: list[int]) -> list[dict]:
    """The default cure and LEDITS++ on the same pipeline and photo, at each step count."""
    import PIL.Image
    import skimage.data
    from diffusers import DPMSolverMultistepScheduler, LEditsPPPipelineStableDiffusion

    from common import load_benchmark_pipeline
    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.prompts import parse_prompt

    workdir = Path(tempfile.mkdtemp())
    pipe = load_benchmark_pipeline(model, workdir)
    parser_folder = random_segformer(workdir / "parser", tiny=model != "sd15")
    fc = FreeCure(pipe, parser="segformer", parser_model=str(parser_folder))
    parsed = parse_prompt(PROMPT)
    ledits = LEditsPPPipelineStableDiffusion(
        vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=pipe.unet,
        # LEDITS++'s own recommendation; its DDIM path fails in diffusers 0.42 (add_noise with float steps).
        scheduler=DPMSolverMultistepScheduler.from_config(
            pipe.scheduler.config, algorithm_type="sde-dpmsolver++", solver_order=2
        ),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    ledits.set_progress_bar_config(disable=True)
    counts = counting_unet_rows(pipe.unet)
    photo = PIL.Image.fromarray(skimage.data.astronaut()).resize((size, size), PIL.Image.LANCZOS)
    rows = []
    for count in steps:
        fc._inversions.clear()
        started = time.perf_counter()
        result = fc.cure(photo, PROMPT, CureConfig(steps=count, working_size=size), callbacks=hair_on_top_callbacks())
        cure_wall = time.perf_counter() - started
        counts["rows"] = 0
        started = time.perf_counter()
        ledits.invert(photo, source_prompt=parsed.template, num_inversion_steps=count, height=size, width=size)
        ledits(editing_prompt=[a.text for a in parsed.attributes],
               edit_guidance_scale=[5.0] * len(parsed.attributes),
               # Its attention masks read a 16x16 level that small models lack; they cost no evaluation.
               use_cross_attn_mask=False, use_intersect_mask=False)
        ledits_wall = time.perf_counter() - started
        rows.append({
            "steps": count,
            "cure_s": cure_wall,
            "cure_evaluations": result.stats.total_evaluations,
            "cure_phases": {k: round(v, 3) for k, v in result.stats.seconds.items()},
            "ledits_s": ledits_wall,
            "ledits_evaluations": counts["rows"],
            "ratio": cure_wall / ledits_wall,
        })
    return rows


def measure_plain_generation(model: str, size: int, steps: int) -> dict:
    from common import load_benchmark_pipeline, peak_memory_mib

    with tempfile.TemporaryDirectory() as workdir:
        pipe = load_benchmark_pipeline(model, workdir)
        started = time.perf_counter()
        pipe("a photo of a woman", num_inference_steps=steps, height=size, width=size, guidance_scale=7.5)
        return {"wall_s": time.perf_counter() - started, "peak_mib": peak_memory_mib()}


def run_child(args, *extra: str) -> dict:
    command = [sys.executable, __file__, "--model", args.model, "--size", str(args.size), "--steps",
               *map(str, args.steps), *extra]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny", "tiny-sdxl", "sd15"], default="tiny")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--steps", type=int, nargs=2, default=None)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--against-ledits", action="store_true",
                        help="time the default cure against LEDITS++ at both step counts, in one process")
    args = parser.parse_args()
    big = args.model == "sd15"
    args.size = args.size or (256 if big else 64)
    args.steps = args.steps or ([2, 4] if big else [10, 20])

    if args.against_ledits:
        from common import machine_line

        print(f"cure against LEDITS++: model {args.model}, {args.size}x{args.size}, prompt {PROMPT!r}; "
              f"{machine_line()}")
        for row in measure_against_ledits(args.model, args.size, args.steps):
            print(f"{row['steps']:>3} steps: cure {row['cure_s']:.2f} s / {row['cure_evaluations']} evaluations, "
                  f"LEDITS++ {row['ledits_s']:.2f} s / {row['ledits_evaluations']} evaluations, "
                  f"ratio {row['ratio']:.2f}; cure phases (s) {row['cure_phases']}")
        return

    if args.one is not None:
        print(json.dumps(measure_cure(args.model, json.loads(args.one), args.size, args.steps)))
        return
    if args.plain:
        print(json.dumps(measure_plain_generation(args.model, args.size, args.steps[-1])))
        return

    from common import machine_line

    plain = run_child(args, "--plain")
    n = args.steps[-1]
    print(f"cure: model {args.model}, {args.size}x{args.size}, steps {args.steps}, prompt {PROMPT!r}; {machine_line()}")
    print(f"plain guided generation, {n} steps: {2 * n} evaluations, {plain['wall_s']:.2f} s, "
          f"peak {plain['peak_mib']:.0f} MiB")
    header = (f"{'configuration':<36}{'inv':>5}{'fd':>5}{'fasa':>5}{'apg':>5}{'total':>7}{'/N':>6}"
              f"{'wall s':>8}{'fixed s':>8}{'s/step':>8}{'@50 s':>8}{'wall/ideal':>11}{'ovh@50':>8}"
              f"{'cache MiB':>10}{'peak MiB':>9}{'xplain':>7}")
    print(header)
    import torch

    configurations = dict(CONFIGURATIONS)
    if torch.cuda.is_available():
        configurations.update(GPU_ONLY_CONFIGURATIONS)
    phase_lines = []
    for name, overrides in configurations.items():
        r = run_child(args, "--one", json.dumps(overrides))
        phase_lines.append(f"  {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["phase_seconds"].items()))
        e = r["evaluations"]
        print(f"{name:<36}{e.get('inversion', 0):>5}{e.get('foundation', 0):>5}{e.get('fasa', 0):>5}"
              f"{e.get('apg', 0):>5}{r['total_evaluations']:>7}{r['total_evaluations'] / n:>6.2f}"
              f"{r['wall_s']:>8.2f}{r['fixed_s']:>8.2f}{r['per_step_s']:>8.3f}"
              f"{r['fixed_s'] + 50 * r['per_step_s']:>8.1f}{r['wall_over_ideal']:>11.2f}"
              f"{100 * r['overhead_at_50']:>7.1f}%{r['fd_cache_mib']:>10.1f}{r['peak_mib']:>9.0f}"
              f"{r['peak_mib'] / plain['peak_mib']:>7.2f}")
    print(f"seconds per phase at {n} steps (autoencoder and parser are phases of their own):")
    print("\n".join(phase_lines))


if __name__ == "__main__":
    main()
