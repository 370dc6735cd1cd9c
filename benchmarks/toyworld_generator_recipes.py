"""How fast does the toy UNet learn? Train it with one recipe and print the generator gate along the way.

    python benchmarks/toyworld_generator_recipes.py --steps 2600 --batch 16 --detail-weight 6 --checks 1300,2000
    python benchmarks/toyworld_generator_recipes.py --steps 1400 --save /tmp/toy-sd   # keep the trained pipeline

Issue 12 asks for every toy model in 30 minutes on the 2-core CPU; the committed UNet needs 4800 steps of
batch 32 (72 of its 78 minutes) before the generator gate passes. This trains the UNet and text encoder
exactly as `python -m freecure_edit.toyworld.train` does (same drawings, seed, schedule, moving average),
on the committed autoencoder's latents, with the recipe's knobs from the command line, and measures the
gate of `freecure_edit.toyworld.gates` (48 held-out captions, 25 DDIM steps, guidance 5, judged by the
committed attribute judge) on the averaged weights at each checkpoint. One thread, as in training.
Prints one markdown row per checkpoint: seconds so far (drawing the set and teaching the text encoder
included, measuring left out) and the share of asked attributes seen, overall and per family.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4800)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--detail-weight", type=float, default=0.0, help="extra loss weight around eyes, mouth, hat")
    parser.add_argument("--template-share", type=float, default=0.0, help="share of captions cut to their template")
    parser.add_argument("--checks", default="", help="comma-separated steps to measure at (the last step always)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save", help="write the final pipeline to this folder")
    args = parser.parse_args(argv)

    from diffusers import AutoencoderKL

    from freecure_edit.testing import tiny_clip_tokenizer
    from freecure_edit.toyworld.assets import model_dir
    from freecure_edit.toyworld.data import TRAIN_SEED_BASE, drawing_set
    from freecure_edit.toyworld.gates import generator_attribute_rate
    from freecure_edit.toyworld.judges import load_judges
    from freecure_edit.toyworld.train import SEEDS, Settings
    from freecure_edit.toyworld.train_generator import build_pipeline, save_pipeline, train_unet
    from freecure_edit.toyworld.world import FAMILIES

    torch.set_num_threads(args.threads)
    checks = {int(step) for step in args.checks.split(",") if step} | {args.steps}
    settings = Settings()
    data = drawing_set(settings.drawings, TRAIN_SEED_BASE + SEEDS["drawings"])
    vae = AutoencoderKL.from_pretrained(str(model_dir("sd") / "vae")).float().eval()
    judges = load_judges()
    print(f"recipe: {args.steps} steps x batch {args.batch}, lr {args.lr}, detail weight {args.detail_weight}, "
          f"template share {args.template_share}\n")
    print("| step | train s | all asked | " + " | ".join(FAMILIES) + " |")
    print("|" + " --- |" * (3 + len(FAMILIES)), flush=True)
    began = time.perf_counter()
    measuring = [0.0]
    final = {}

    def measure(step, unet, text_encoder):
        start = time.perf_counter()
        trained = start - began - measuring[0]
        pipe = build_pipeline(vae, unet, text_encoder, tiny_clip_tokenizer())
        rates = generator_attribute_rate(pipe, judges)
        measuring[0] += time.perf_counter() - start
        print(f"| {step} | {trained:.0f} | {rates['all_asked']:.3f} | "
              + " | ".join(f"{rates[f]:.3f}" for f in FAMILIES) + " |", flush=True)
        final["pipe"] = pipe

    train_unet(vae, data, args.steps, SEEDS["unet"], batch=args.batch, lr=args.lr, log=lambda message: None,
               text_steps=settings.text_steps, detail_weight=args.detail_weight,
               template_share=args.template_share, checkpoints=checks, on_checkpoint=measure)
    if args.save:
        save_pipeline(final["pipe"], args.save)
        print(f"\nsaved the pipeline to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
