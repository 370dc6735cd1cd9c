"""Throughput of `freecure-edit batch` in one process and in two (--num-processes 2, which starts them
with accelerate), on the tiny test model, on the CPU by default.

    python benchmarks/batch.py                            # 16 images, 2 steps, the CPU
    python benchmarks/batch.py --images 32 --device cuda  # needs two GPUs for the 2-process run

Each run is the real command in a fresh output folder. Images/s are given two ways: over the whole
command (start-up, the launcher, model loading included) and over the curing only, from the first
image started to the last finished (each manifest line has its finish time and its seconds). The
efficiency is throughput(2) / (2 x throughput(1)): 1.0 is perfect scaling. On the CPU one process
uses every core, and two processes get half the cores each (what --num-processes gives them), so the
efficiency says how much the cure gains from being split by images rather than within each image.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PROMPT = "a woman with black curly hair, laughing happily"


def make_inputs(folder: Path, count: int, size: int) -> Path:
    import numpy as np
    import PIL.Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        coarse = (rng.random((max(2, size // 8), max(2, size // 8), 3)) * 255).astype("uint8")
        PIL.Image.fromarray(coarse).resize((size, size), PIL.Image.BICUBIC).save(folder / f"photo{index:03d}.png")
    return folder


def run_batch(models: dict[str, Path], inputs: Path, output: Path, args, processes: int) -> dict:
    command = [sys.executable, "-m", "freecure_edit.cli", "batch", str(inputs), "-o", str(output), "--prompt",
               PROMPT, "--model", str(models["sd"]), "--parser-model", str(models["parser"]), "--device",
               args.device, "--steps", str(args.steps), "--no-detect"]
    if processes > 1:
        command += ["--num-processes", str(processes)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == args.images and all(line["status"] == "ok" for line in lines), "every image cured once"
    finished = [datetime.datetime.fromisoformat(line["finished_at"]).timestamp() for line in lines]
    first_start = min(end - line["seconds"] for end, line in zip(finished, lines))
    curing = max(finished) - first_start
    return {"processes": processes, "wall_s": wall, "whole_images_per_s": len(lines) / wall,
            "curing_s": curing, "curing_images_per_s": len(lines) / curing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=64, help="the photos' side in pixels")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from common import machine_line
    from cure import random_segformer
    from freecure_edit.testing import save_tiny_pipeline

    work = Path(tempfile.mkdtemp(prefix="batch-benchmark-"))
    models = {"sd": Path(save_tiny_pipeline("sd", work / "sd", unet_variant="smooth")),
              "parser": random_segformer(work / "parser", tiny=True)}
    inputs = make_inputs(work / "in", args.images, args.size)
    results = {count: run_batch(models, inputs, work / f"out{count}", args, count) for count in (1, 2)}

    print(f"machine: {machine_line()}")
    print(f"{args.images} images of {args.size} px, {args.steps} steps, tiny SD model, --device {args.device}")
    print(f"{'processes':>9}  {'wall s':>7}  {'images/s (whole)':>16}  {'curing s':>8}  {'images/s (curing)':>17}")
    for count, result in results.items():
        print(f"{count:>9}  {result['wall_s']:>7.1f}  {result['whole_images_per_s']:>16.3f}  "
              f"{result['curing_s']:>8.1f}  {result['curing_images_per_s']:>17.3f}")
    for measure in ("whole", "curing"):
        one, two = (results[count][f"{measure}_images_per_s"] for count in (1, 2))
        print(f"efficiency ({measure}) = throughput2 / (2 x throughput1) = {two:.3f} / (2 x {one:.3f}) = "
              f"{two / (2 * one):.2f}")


if __name__ == "__main__":
    main()
