"""Cost and fidelity of the inversion front ends, measured in one run.

    python benchmarks/inversion.py --model tiny
    python benchmarks/inversion.py --model sd15 --size 256 --steps 2 4

For each method it prints denoiser evaluations (and backward passes), wall time, the fixed seconds and
seconds per step fitted over two step counts with the extrapolation to 50 steps, wall time divided by
(evaluations x the measured time of one evaluation), reconstruction PSNR against the autoencoder round
trip, and peak memory. Each configuration runs in its own process so that peak memory is its own.
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

CONFIGURATIONS = [
    ("ddim", 1.0),
    ("ddim", 7.5),
    ("exact", 1.0),
    ("exact", 7.5),
    ("negative-prompt", 7.5),
    ("null-text", 7.5),
]


def measure(model: str, method: str, guidance: float, size: int, steps: list[int], inner: int) -> dict:
    import PIL.Image
    import skimage.data

    from common import fit_fixed_and_per_step, load_benchmark_pipeline, peak_memory_mib, psnr, seconds_per_evaluation
    from freecure_edit.backbones import backbone_for
    from freecure_edit.inversion import NullTextSettings, invert

    with tempfile.TemporaryDirectory() as workdir:
        pipe = load_benchmark_pipeline(model, workdir)
    backbone = backbone_for(pipe)
    photo = PIL.Image.fromarray(skimage.data.astronaut()).resize((size, size), PIL.Image.LANCZOS)
    prompt = "a photo of an astronaut"
    options = {"null_text": NullTextSettings(inner_steps=inner)} if method == "null-text" else {}

    runs = []
    for count in steps:
        before = backbone.counter.snapshot()
        started = time.perf_counter()
        inversion = invert(backbone, photo, prompt, count, guidance, method=method, **options)
        result = inversion.reconstruct()
        wall = time.perf_counter() - started
        used = backbone.counter.since(before)
        runs.append((count, wall, used, inversion, result))

    count, wall, used, inversion, result = runs[-1]
    round_trip = backbone.tensor_to_image(backbone.decode(inversion.z0))
    latent_shape = tuple(inversion.z0.shape)
    per_eval_1 = seconds_per_evaluation(backbone, latent_shape, batch=1)
    per_eval_2 = seconds_per_evaluation(backbone, latent_shape, batch=2)
    pairs = used.evaluations - used.calls
    singles = used.calls - pairs
    # A backward pass through the UNet costs about two forward passes.
    ideal = singles * per_eval_1 + pairs * 2 * per_eval_2 + used.backward_passes * 2 * per_eval_1
    fixed, per_step = fit_fixed_and_per_step([(n, w) for n, w, *_ in runs])
    evaluations_per_step = used.evaluations / count
    ideal_per_step = ideal / count
    return {
        "method": method,
        "guidance": guidance,
        "steps": count,
        "evaluations": used.evaluations,
        "evaluations_per_step": evaluations_per_step,
        "backward_passes": used.backward_passes,
        "wall_s": wall,
        "fixed_s": fixed,
        "per_step_s": per_step,
        "wall_at_50_s": fixed + 50 * per_step,
        "seconds_per_evaluation": per_eval_1,
        "wall_over_ideal": wall / ideal,
        "overhead_at_50": (fixed + 50 * per_step) / (50 * ideal_per_step) - 1,
        "psnr_db": psnr(result.image, round_trip),
        "peak_mib": peak_memory_mib(),
    }


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    print(
        f"{'method':<16}{'g':>5}{'evals':>7}{'bwd':>5}{'wall s':>9}{'fixed s':>9}{'s/step':>9}"
        f"{'@50 s':>9}{'s/eval':>9}{'wall/ideal':>11}{'ovh@50':>8}{'PSNR dB':>9}{'peak MiB':>10}"
    )
    for r in rows:
        print(
            f"{r['method']:<16}{r['guidance']:>5.1f}{r['evaluations']:>7}{r['backward_passes']:>5}"
            f"{r['wall_s']:>9.2f}{r['fixed_s']:>9.2f}{r['per_step_s']:>9.3f}{r['wall_at_50_s']:>9.1f}"
            f"{r['seconds_per_evaluation']:>9.4f}{r['wall_over_ideal']:>11.2f}"
            f"{100 * r['overhead_at_50']:>7.1f}%{r['psnr_db']:>9.1f}{r['peak_mib']:>10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny", "tiny-sdxl", "sd15"], default="tiny")
    parser.add_argument("--size", type=int, default=None, help="square image side (64 tiny, 256 sd15)")
    parser.add_argument("--steps", type=int, nargs=2, default=None, help="two step counts to fit")
    parser.add_argument("--null-text-iterations", type=int, default=None)
    parser.add_argument("--methods", nargs="*", default=None, help="subset, e.g. exact ddim")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    big = args.model == "sd15"
    size = args.size or (256 if big else 64)
    steps = args.steps or ([2, 4] if big else [10, 20])
    inner = args.null_text_iterations or (2 if big else 10)

    if args.one:
        method, guidance = args.one.rsplit(":", 1)
        print(json.dumps(measure(args.model, method, float(guidance), size, steps, inner)))
        return

    from common import machine_line

    rows = []
    for method, guidance in CONFIGURATIONS:
        if args.methods and method not in args.methods:
            continue
        command = [sys.executable, __file__, "--model", args.model, "--size", str(size), "--steps",
                   *map(str, steps), "--null-text-iterations", str(inner), "--one", f"{method}:{guidance}"]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print_table(rows, f"inversion front ends: model {args.model}, {size}x{size}, steps {steps}, "
                      f"null-text {inner} iterations/step; {machine_line()}")


if __name__ == "__main__":
    main()
