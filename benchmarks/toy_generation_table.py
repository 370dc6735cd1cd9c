"""The paper's Tables 1 and 2 in miniature: generation inside the toy IP-Adapter FaceID, with and without
FreeCure, judged by the toy world's judges.

    python benchmarks/toy_generation_table.py [--adapter DIR] [--identities 8] [--seeds 2] [--steps 20]
                                              [--save DIR] [--quick]

Per reference drawing (one identity, its own hair, no glasses, no hat, neutral face) and toy prompt
asking 1, 2 or 3 attributes the reference does not show, and per seed, one `FreeCure.generate` call
gives the adapter alone (PD, the personalized baseline) and the cure; a second call with gamma 0 gives
FASA alone. The foundation branch (the same model, zero identity embedding) is reported beside them.

- PC: the attribute judge's share of the asked attributes shown; IF: the identity judge's cosine to
  the reference drawing; hMean: their harmonic mean.
- Diversity: the mean absolute pixel difference (0..1) between the two seeds' images of the same
  reference and prompt, in place of the paper's LPIPS (its backbone has no weights here).
- Evaluations and seconds per image, measured.
Each table is printed per seed and over both, with the spread (half the difference of the two seeds'
means) next to the mean. `--save DIR` writes a grid: reference | PD | FD | FASA | FASA+APG per row.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

FAMILY_ORDER = ("hair_colour", "hair_style", "glasses", "hat", "expression")
# The toy equivalents of the paper's 20 prompts: 8 with one attribute, 6 with two, 6 with three; each
# names only attribute families, the values come from what the reference does not show.
PROMPT_FAMILIES = (
    [("hair_colour",), ("hair_style",), ("glasses",), ("hat",), ("expression",), ("hair_colour",), ("glasses",),
     ("expression",)]
    + [("hair_colour", "glasses"), ("hair_colour", "expression"), ("hair_style", "hat"), ("glasses", "expression"),
       ("hair_colour", "hat"), ("hair_style", "glasses")]
    + [("hair_colour", "glasses", "expression"), ("hair_colour", "hair_style", "glasses"),
       ("hair_colour", "hat", "expression"), ("hair_style", "glasses", "hat"), ("glasses", "hat", "expression"),
       ("hair_colour", "hair_style", "expression")]
)
ALTERNATIVES = {"hair_colour": ("red", "blonde", "brown", "black"), "hair_style": ("curly", "straight"),
                "glasses": ("round", "sunglasses"), "hat": ("hat",), "expression": ("smiling", "surprised")}


def references(count: int):
    """`count` reference drawings: identities spread over the world, hair drawn from a fixed generator."""
    from freecure_edit.toyworld import PortraitSpec, draw
    from freecure_edit.toyworld.world import IDENTITIES

    rng = np.random.default_rng(27)
    drawings = []
    for k in range(count):
        identity = int(k * IDENTITIES // count)
        spec = PortraitSpec(identity=identity, hair_colour=str(rng.choice(["black", "brown", "blonde"])),
                            hair_style=str(rng.choice(["straight", "curly"])))
        drawings.append(draw(spec, seed=100 + k))
    return drawings


def target_prompt(reference_spec, families, turn: int) -> str:
    """A prompt asking `families` with values the reference does not show (the `turn`-th choice)."""
    from dataclasses import replace

    from freecure_edit.toyworld.world import prompt_for

    changes = {}
    for family in families:
        options = [v for v in ALTERNATIVES[family] if v != getattr(reference_spec, family)]
        changes[family] = options[turn % len(options)]
    return prompt_for(replace(reference_spec, **changes), families)


def hmean(pc: float, identity: float) -> float:
    identity = max(identity, 0.0)
    return 0.0 if pc + identity == 0 else 2 * pc * identity / (pc + identity)


def run(args) -> None:
    from freecure_edit import FreeCure
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.toyworld import model_dir
    from freecure_edit.toyworld.face_pack import ToyFaceAnalyzer
    from freecure_edit.toyworld.judges import load_judges

    torch.set_num_threads(args.threads)
    fc = FreeCure.from_pretrained(str(model_dir("sd")), parser="segformer", parser_model=str(model_dir("parser")),
                                  detector=None, device="cpu")
    fc.pipe.set_progress_bar_config(disable=True)
    judges = load_judges()
    fc.face_analyzer = ToyFaceAnalyzer(judges)
    adapter = fc.load_adapter(args.adapter)
    print(f"adapter {adapter.source} ({adapter.kind}, {adapter.id_dim}-number identity, LoRA {adapter.lora})")
    drawings = references(args.identities)
    prompts = PROMPT_FAMILIES[: args.prompts]
    shared = {"steps": args.steps, "guidance": args.guidance, "mask_source": args.mask_source}
    if args.omega is not None:
        shared["omega"] = args.omega
    settings = {"fasa": CureConfig(**shared, gamma=0.0), "fasa+apg": CureConfig(**shared)}
    rows = []  # one dict per (reference, prompt, seed, method)
    images = defaultdict(dict)
    started = time.perf_counter()
    for r, drawing in enumerate(drawings):
        for p, families in enumerate(prompts):
            prompt = target_prompt(drawing.spec, families, turn=p)
            for seed in range(args.seeds):
                for name, config in settings.items():
                    began = time.perf_counter()
                    result = fc.generate(drawing.image, prompt, config, seed=seed)
                    seconds = time.perf_counter() - began
                    evaluations = sum(result.stats.evaluations.values())
                    outputs = {name: result.image}
                    if name == "fasa":
                        outputs.update(pd=result.pd_image, fd=result.fd_image)
                    for method, image in outputs.items():
                        pc = judges.prompt_consistency(image, prompt)
                        identity = judges.identity_similarity(drawing.image, image)
                        rows.append({"ref": r, "prompt": p, "attributes": len(families), "seed": seed, "method": method,
                                     "pc": pc, "if": identity, "hmean": hmean(pc, identity),
                                     # PD alone or FD alone is a plain guided generation: 2N.
                                     "evaluations": evaluations if method == name else 2 * args.steps,
                                     "seconds": seconds if method == name else None,
                                     "pixels": np.asarray(image, dtype=np.float64) / 255.0})
                        images[(r, p, seed)][method] = image
        print(f"reference {r + 1}/{len(drawings)} done, {time.perf_counter() - started:.0f} s", flush=True)
        if args.report_every and (r + 1) % args.report_every == 0 and r + 1 < len(drawings):
            report(rows, args.seeds)  # so far: a run stopped by the clock still leaves a table
    report(rows, args.seeds)
    if args.save:
        save_grid(Path(args.save), drawings, prompts, images)


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def diversity(rows, method: str) -> float:
    """Mean absolute pixel difference between seed 0 and seed 1 for the same reference and prompt."""
    by_key = defaultdict(dict)
    for row in rows:
        if row["method"] == method:
            by_key[(row["ref"], row["prompt"])][row["seed"]] = row["pixels"]
    pairs = [np.abs(seeds[0] - seeds[1]).mean() for seeds in by_key.values() if 0 in seeds and 1 in seeds]
    return float(np.mean(pairs)) if pairs else float("nan")


def report(rows, seeds: int) -> None:
    methods = ("pd", "fasa", "fasa+apg", "fd")
    names = {"pd": "FaceID alone (PD)", "fasa": "+ FreeCure (FASA)", "fasa+apg": "+ FreeCure (FASA+APG)",
             "fd": "FD (zero identity)"}
    print(f"\n{'method':<24} {'attrs':>5} {'PC':>13} {'IF':>13} {'hMean':>13} {'evals':>6} {'s/img':>6}")
    for attributes in (1, 2, 3, None):
        for method in methods:
            chosen = [r for r in rows if r["method"] == method and (attributes is None or r["attributes"] == attributes)]
            cells = []
            for key in ("pc", "if", "hmean"):
                per_seed = [_mean([r[key] for r in chosen if r["seed"] == s]) for s in range(seeds)]
                spread = (max(per_seed) - min(per_seed)) / 2 if seeds > 1 else 0.0
                cells.append(f"{_mean([r[key] for r in chosen]):.3f} ±{spread:.3f}")
            label = "all" if attributes is None else str(attributes)
            print(f"{names[method]:<24} {label:>5} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} "
                  f"{_mean([r['evaluations'] for r in chosen]):>6.0f} {_mean([r['seconds'] for r in chosen]):>6.2f}")
        print()
    if seeds > 1:
        print("diversity between seeds (mean |pixel| difference, 0..1): "
              + ", ".join(f"{names[m]} {diversity(rows, m):.3f}" for m in methods))
    n = len({(r["ref"], r["prompt"], r["seed"]) for r in rows})
    print(f"{n} generations per method ({len({r['ref'] for r in rows})} references x "
          f"{len({r['prompt'] for r in rows})} prompts x {seeds} seeds)")


def save_grid(path: Path, drawings, prompts, images) -> None:
    from PIL import Image

    columns = ("reference", "pd", "fd", "fasa", "fasa+apg")
    tiles = []
    for (r, p, seed), found in sorted(images.items()):
        if seed != 0 or p % 4 != 0:
            continue  # one seed, every fourth prompt: a grid a person can read
        row = [drawings[r].image.convert("RGB").resize((64, 64))] + [found[c].convert("RGB").resize((64, 64))
                                                                    for c in columns[1:]]
        tiles.append(np.concatenate([np.asarray(t) for t in row], axis=1))
    grid = np.concatenate(tiles, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
    print(f"grid ({', '.join(columns)}) -> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default=None, help="the toy adapter folder [default: the committed one]")
    parser.add_argument("--identities", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=len(PROMPT_FAMILIES))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mask-source", default="fd", choices=("fd", "photo", "both"),
                        help="whose parse draws the masks: FD's (the authors'), PD's ('photo'), or both")
    parser.add_argument("--omega", type=float, default=None, help="FASA's omega [default: the model's]")
    parser.add_argument("--save", help="write the grid PNG here")
    parser.add_argument("--report-every", type=int, default=0, help="also print the table so far every N references")
    parser.add_argument("--quick", action="store_true", help="2 references x 2 prompts x 2 seeds x 4 steps")
    args = parser.parse_args()
    if args.adapter is None:
        from freecure_edit.toyworld import model_dir

        args.adapter = str(model_dir("sd").parent / "adapters" / "faceid")
    if args.quick:
        args.identities, args.prompts, args.steps = 2, 2, 4
    run(args)


if __name__ == "__main__":
    main()
