"""The staged recipe of the committed toy generator (issue 27): how sd/ since sharp3 was trained.

    python benchmarks/toyworld_sharp_stages.py OUT                               # stages 0-3, about 90 min
    python benchmarks/toyworld_sharp_stages.py OUT --vae RUN1/sd/vae             # stages 1-3 on a given autoencoder
    python -m freecure_edit.toyworld.gates OUT

Stage 0 (run 1 of the README): the autoencoder of `train --sharp --generator-only` (3000 steps with the
edge loss, the same drawings and seed), saved in fp16 to OUT/stages/stage-0/vae and loaded back; the
committed one came from that command, whose UNet was then left aside.

Stage 1 (run 2 of the README): a fresh UNet and text encoder, 4000 x 16 steps at lr 1e-3, partial captions
with hair words kept more often than `captions.RULES` (0.85 / 0.7: with 0.7 / 0.5 the hair colour gate fell
to 0.67), detail weight 12 around eyes, brows, glasses and mouth but not the hat (the hat label's weight
falls only where a hat is drawn and pulls unnamed hats in). Stage 2: 4500 x 16 more at lr 5e-4 with the
head-footprint weight 6 (`train_generator.head_footprints`), the change that made the UNet read the hat
words (unasked hats 0.53 -> 0.03). Stage 3: a 1500-step schedule at lr 1.5e-4 whose step-1000 averaged
checkpoint is OUT/sd (the Fréchet distance moves by about 0.3 between neighbouring checkpoints; README).
Each stage is saved in fp16 and loaded back, as the committed run was. OUT also gets the committed parser
and judges, so the gates measure with the same instruments. One thread.
`--scale 0.01` shrinks every stage's steps (a smoke test, not a recipe).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

STAGES = (
    # (steps, lr, seed offset, footprint weight, checkpoint kept instead of the last step)
    (4000, 1e-3, 0, 0.0, None),
    (4500, 5e-4, 100, 6.0, None),
    (1500, 1.5e-4, 200, 6.0, 1000),
)
DETAIL = 12.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to create (stage folders go to OUT/stages)")
    parser.add_argument("--vae", help="an autoencoder folder to start from (a --sharp --generator-only run's "
                                      "sd/vae) instead of training stage 0")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every stage's steps (smoke tests)")
    parser.add_argument("--drawings", type=int, default=3000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from diffusers import AutoencoderKL

    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.testing import tiny_clip_tokenizer
    from freecure_edit.toyworld.assets import WEIGHTS_DIR
    from freecure_edit.toyworld.captions import SD_RULES
    from freecure_edit.toyworld.data import TRAIN_SEED_BASE, drawing_set
    from freecure_edit.toyworld.train import SEEDS, _log
    from freecure_edit.toyworld.train_generator import DETAIL_LABELS, build_pipeline, encode, save_pipeline, train_unet

    out = Path(args.out)
    out.mkdir(parents=True)
    began = time.perf_counter()
    seed_base = TRAIN_SEED_BASE + SEEDS["drawings"]
    data = drawing_set(args.drawings, seed_base)
    vae_folder = Path(args.vae) if args.vae else train_stage_zero(data, out / "stages" / "stage-0" / "vae", args.scale)
    vae = AutoencoderKL.from_pretrained(vae_folder).float().eval()
    latents = encode(vae, data.pixels())
    labels = tuple(name for name in DETAIL_LABELS if name != "hat")
    rules = SD_RULES
    previous = None
    for number, (steps, lr, offset, footprint, keep_at) in enumerate(STAGES, start=1):
        steps = max(2, round(steps * args.scale))
        keep_at = None if keep_at is None else max(1, min(steps, round(keep_at * args.scale)))
        folder = out / "stages" / f"stage-{number}"
        kept = {}

        def keep(step, unet, text_encoder, kept=kept):
            kept["models"] = (unet, text_encoder)

        start_from = None
        if previous is not None:
            # Going on from the saved (fp16) stage, as the committed run did.
            pipe = load_pipeline(str(previous), device="cpu")
            start_from = (pipe.unet.float().train(), pipe.text_encoder.float().train())
        unet, text_encoder, tokenizer = train_unet(
            vae, data, steps, SEEDS["unet"] + offset, batch=16, lr=lr, log=_log, latents=latents,
            text_steps=200 if start_from is None else 0, detail_weight=DETAIL, caption_rules=rules,
            detail_labels=labels, footprint_weight=footprint, footprint_seed_base=seed_base, start_from=start_from,
            checkpoints={keep_at} if keep_at else set(), on_checkpoint=keep if keep_at else None)
        if keep_at:
            unet, text_encoder = kept["models"]
            tokenizer = tiny_clip_tokenizer()
        save_pipeline(build_pipeline(vae, unet, text_encoder, tokenizer), folder)
        _log(f"stage {number} ({steps} steps{f', kept step {keep_at}' if keep_at else ''}) saved to {folder}")
        previous = folder
    shutil.copytree(previous, out / "sd")
    for config in (out / "sd").glob("*/config.json"):
        # Models loaded from a stage folder remember its path; the committed folder must not name /tmp.
        config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                                  if '"_name_or_path"' not in line))
    for name in ("parser", "judges"):
        shutil.copytree(WEIGHTS_DIR / name, out / name)
    _log(f"wrote {out} in {time.perf_counter() - began:.0f} s")
    return 0


def train_stage_zero(data, folder: Path, scale: float) -> Path:
    """The SHARP recipe's autoencoder (train.py), saved in fp16 as every committed model is."""
    from freecure_edit.toyworld.train import SEEDS, SHARP, _log
    from freecure_edit.toyworld.train_generator import train_vae

    steps = max(2, round(SHARP.vae_steps * scale))
    vae, _ = train_vae(data, steps, SEEDS["vae"], log=_log, edge_weight=SHARP.vae_edge_weight)
    vae.half().save_pretrained(folder)
    _log(f"stage 0 (autoencoder, {steps} steps) saved to {folder}")
    return folder


if __name__ == "__main__":
    sys.exit(main())
