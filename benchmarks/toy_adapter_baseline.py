"""Does the toy IP-Adapter FaceID keep identity, and does it suppress the prompt's attributes? (issue 28,
item 4: the baseline the cure is measured against, measured before any cure.)

    python benchmarks/toy_adapter_baseline.py                    # 8 identities x 20 prompts x 2 seeds
    python benchmarks/toy_adapter_baseline.py --plus              # the PlusV2-style toy adapter instead
    python benchmarks/toy_adapter_baseline.py --grid grid.png --adapter OTHER_FOLDER

Everything goes through diffusers' own pipeline call on the committed toy SD: the base model alone, the
same model with the committed toy adapter (`toyworld/weights/adapters/faceid`) given the reference's
identity embedding, and the adapter given a zero embedding (the cure's FD branch: the LoRA on, no
identity). With `--plus`, the PlusV2-style adapter (`adapters/faceid-plusv2`) also gets the reference's
image features (the attribute judge's feature map), its FD the features of an all-zero image (the
condition it was trained with when both were dropped). Each image of one (identity, prompt, seed)
starts from the same latent in all three; no two prompts share one.

References: one drawing per identity, dark hair, no glasses, no hat, a neutral face (as the toy cure's
experiment draws its photos), so every prompt asks for something the reference does not show. Prompts:
20 per identity, 7 asking one attribute, 7 two and 6 three (hair colour red or blonde, the other hair
style, round glasses or sunglasses, a hat, smiling or surprised), worded by `world.prompt_for`.

Measured per image (the toy judges, the project's stand-ins for the paper's metrics):
- PC: the share of the asked attributes the attribute judge sees (toy CLIP-T);
- IF: the identity judge's cosine to the reference drawing (toy ArcFace);
- copied: the share of asked attributes where the image shows the reference's value instead (what real
  adapters' users complain of: hair colour and style, expression and glasses copied from the reference).
Then a probe of what the face embedding itself carries: a linear classifier per attribute family on the
identity judge's embeddings of 2000 drawings, tested on 1000 others (chance: the majority value).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import fmean, pstdev

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

IDENTITIES = (0, 3, 4, 7, 9, 10, 13, 14)  # eight of the sixteen, both genders, six skin tones
# Families asked per prompt: 7 single, 7 pairs, 6 triples (the paper's 20 prompts by attribute count).
ASKS = (
    ["hair_colour"], ["hair_style"], ["glasses"], ["hat"], ["expression"], ["hair_colour"], ["glasses"],
    ["hair_colour", "glasses"], ["hair_colour", "hat"], ["glasses", "expression"], ["hair_style", "hat"],
    ["hair_colour", "expression"], ["hair_style", "glasses"], ["hat", "expression"],
    ["hair_colour", "glasses", "hat"], ["hair_colour", "glasses", "expression"], ["hair_style", "hat", "expression"],
    ["hair_colour", "hair_style", "glasses"], ["glasses", "hat", "expression"], ["hair_colour", "hat", "expression"],
)
# The value asked per family alternates between these by prompt number (hair style: the other one).
ASKED_VALUES = {"hair_colour": ("red", "blonde"), "glasses": ("round", "sunglasses"), "hat": ("hat",),
                "expression": ("smiling", "surprised")}
REFERENCE_SEED = 20_000_000  # drawing seeds outside both the training and the gates' held-out ranges
MODELS = ("base", "adapter", "adapter, zero embedding (FD)")


def references():
    """One reference drawing per identity: dark hair, no glasses, no hat, neutral."""
    from freecure_edit.toyworld.world import PortraitSpec, draw

    out = []
    for n, identity in enumerate(IDENTITIES):
        spec = PortraitSpec(identity=identity, hair_colour=("black", "brown")[n % 2],
                            hair_style=("straight", "curly")[(n // 2) % 2])
        out.append(draw(spec, seed=REFERENCE_SEED + identity))
    return out


def prompts_for(spec):
    """(prompt, asked spec, families) for the 20 asks, each differing from `spec` in every asked family."""
    from freecure_edit.toyworld.world import HAIR_STYLES, prompt_for

    rows = []
    for number, families in enumerate(ASKS):
        changes = {}
        for family in families:
            if family == "hair_style":
                changes[family] = next(s for s in HAIR_STYLES if s != spec.hair_style)
            else:
                values = ASKED_VALUES[family]
                changes[family] = values[number % len(values)]
        asked = spec.with_changes(**changes)
        rows.append((prompt_for(asked, families), asked, families))
    return rows


def load_pipelines(adapter_folder, weight_name):
    from freecure_edit.generation.faceid_layout import load_faceid_into
    from freecure_edit.toyworld.train_adapter import load_base

    base = load_base()
    adapted = load_base()
    load_faceid_into(adapted, Path(adapter_folder) / weight_name)
    return base, adapted


def start_latents(identity, count, seed):
    """One starting latent per prompt of one identity and seed; the same for every pipeline, so the
    three models are compared image by image (and no two prompts share a latent)."""
    return torch.stack([torch.randn((4, 16, 16), generator=torch.Generator().manual_seed(
        1_000_000 * seed + 1000 * identity + k)) for k in range(count)])


def pipeline_embeds(embedding):
    """`ip_adapter_image_embeds` for one reference: (2, 1, 32), [negative (zeros); positive].

    diffusers' pipeline splits the tensor into halves and repeats each half once per image of the batch
    (batch_size x num_images_per_prompt): it is per reference, not per row. A per-row tensor (2B, 1, 32)
    becomes 2B^2 rows, and the IP attention processors fold them into B x 4 tokens per row without an
    error (their `view(batch, -1, heads, dim)`); only the Plus projection's `clip_embeds` batch check
    catches it. One embedding for the whole batch is the only thing this path can express."""
    return torch.stack([torch.zeros_like(embedding), embedding])[:, None]


def generate(pipe, prompts, latents, steps, guidance, embedding=None, features=None, dropped_features=None):
    """uint8 images of `prompts` from `latents`. `embedding`: (32,) identity embedding for an adapter
    pipeline (zeros for FD); for a Plus adapter also `features` (tokens, channels) of the reference
    and `dropped_features`, the negative rows' (an all-zero image's)."""
    from freecure_edit.toyworld.train_adapter import use_image_features

    count = len(prompts)
    kwargs = {}
    if embedding is not None:
        kwargs["ip_adapter_image_embeds"] = [pipeline_embeds(embedding)]
    if features is not None:
        use_image_features(pipe, torch.cat([dropped_features.expand(count, -1, -1), features.expand(count, -1, -1)]))
    images = pipe(prompts, latents=latents, num_inference_steps=steps, guidance_scale=guidance,
                  output_type="np", **kwargs).images
    return (images * 255).round().astype(np.uint8)


def measure(judges, reference, images, rows):
    """Per image: PC, IF and the share of asked attributes copied from the reference."""
    ref_embedding = judges.identity_embeddings([reference.image])[0]
    embeddings = judges.identity_embeddings(images)
    seen = judges.attributes(images)
    out = []
    for image, embedding, shown, (prompt, asked, families) in zip(images, embeddings, seen, rows):
        copied = fmean(shown[f] == getattr(reference.spec, f) for f in families)
        out.append({"pc": judges.prompt_consistency(image, prompt), "if": float(embedding @ ref_embedding),
                    "copied": copied, "count": len(families), "families": families, "shown": shown})
    return out


def embedding_probe(judges, train=2000, test=1000):
    """Test accuracy of a linear classifier per attribute family on the identity embedding, and chance."""
    from freecure_edit.toyworld.data import HELD_OUT_SEED_BASE, drawing_set
    from freecure_edit.toyworld.world import FAMILIES

    data = drawing_set(train + test, HELD_OUT_SEED_BASE + 500_000)
    x = torch.from_numpy(np.concatenate([judges.identity_embeddings(data.images[i:i + 500])
                                         for i in range(0, len(data), 500)])).float()
    targets = data.targets()
    result = {}
    for family in list(FAMILIES) + ["identity"]:
        y = targets[family]
        torch.manual_seed(0)
        head = torch.nn.Linear(x.shape[1], int(y.max()) + 1)
        optimiser = torch.optim.Adam(head.parameters(), lr=0.05)
        for _ in range(300):
            loss = torch.nn.functional.cross_entropy(head(x[:train]), y[:train])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        accuracy = (head(x[train:]).argmax(1) == y[train:]).float().mean().item()
        chance = torch.bincount(y[train:]).max().item() / test
        result[family] = (accuracy, chance)
    return result


def save_grid(path, picks):
    """Rows of reference | ideal | base | adapter | FD, 2x upscaled; `picks` = [(prompt, [5 uint8 images])]."""
    from PIL import Image, ImageDraw

    cell, label = 128, 14
    grid = Image.new("RGB", (5 * cell, len(picks) * (cell + label) + label), "white")
    pen = ImageDraw.Draw(grid)
    for column, head in enumerate(("reference", "ideal (world redraw)", "base", "adapter", "adapter, zero emb (FD)")):
        pen.text((column * cell + 2, 1), head, fill="black")
    for row, (prompt, images) in enumerate(picks):
        top = label + row * (cell + label)
        pen.text((2, top + 1), prompt[:80], fill="black")
        for column, image in enumerate(images):
            grid.paste(Image.fromarray(image).resize((cell, cell), Image.NEAREST), (column * cell, top + label))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def table(results):
    lines = ["| attributes asked | n | PC base | PC adapter | PC FD | PC ideal | IF base | IF adapter | IF FD | IF ideal "
             "| copied base | copied adapter | copied FD |", "|---" * 13 + "|"]
    columns = MODELS + ("ideal",)
    for count in (1, 2, 3, "all"):
        pick = {m: [r for r in results[m] if count == "all" or r["count"] == count] for m in columns}
        cells = [str(count), str(len(pick["base"]))]
        for key in ("pc", "if", "copied"):
            cells += [f"{fmean(r[key] for r in pick[m]):.3f}" for m in (columns if key != "copied" else MODELS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def family_table(results):
    from freecure_edit.toyworld.world import FAMILIES

    lines = ["| family asked | n | shown: base | adapter | FD | copied: base | adapter | FD |", "|---|---|---|---|---|---|---|---|"]
    for family in FAMILIES:
        cells = [family]
        rows = {m: [r for r in results[m] if family in r["families"]] for m in MODELS}
        cells.append(str(len(rows["base"])))
        cells += [f"{fmean(r['asked'][family] == r['shown'][family] for r in rows[m]):.2f}" for m in MODELS]
        cells += [f"{fmean(r['reference'][family] == r['shown'][family] for r in rows[m]):.2f}" for m in MODELS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(results):
    """Mean paired differences (same reference, prompt and starting latent) with their standard errors."""
    lines = ["Paired differences over the same images (mean +/- standard error):"]
    for a, b in ((MODELS[1], MODELS[0]), (MODELS[2], MODELS[0]), (MODELS[1], MODELS[2])):
        for key in ("pc", "if"):
            d = [x[key] - y[key] for x, y in zip(results[a], results[b])]
            lines.append(f"  {key.upper()} {a} - {b}: {fmean(d):+.3f} +/- {pstdev(d) / len(d) ** 0.5:.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    from freecure_edit.toyworld.assets import WEIGHTS_DIR
    from freecure_edit.toyworld.judges import load_judges
    from freecure_edit.toyworld.world import draw

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapter", default=None, help="the adapter's folder  [default: the committed one]")
    parser.add_argument("--plus", action="store_true", help="the PlusV2-style adapter (image features too)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--grid", default=None, help="[default: bench-out/toy_adapter_baseline(_plus).png]")
    args = parser.parse_args(argv)
    from freecure_edit.toyworld.train_adapter import PLUS_WEIGHT_NAME, WEIGHT_NAME, image_features

    args.adapter = args.adapter or str(WEIGHTS_DIR / "adapters" / ("faceid-plusv2" if args.plus else "faceid"))
    args.grid = args.grid or f"bench-out/toy_adapter_baseline{'_plus' if args.plus else ''}.png"
    torch.set_num_threads(1)
    began = time.perf_counter()
    judges = load_judges()
    pipes = load_pipelines(args.adapter, PLUS_WEIGHT_NAME if args.plus else WEIGHT_NAME)
    dropped = image_features(judges) if args.plus else None
    results = {m: [] for m in MODELS + ("ideal",)}
    per_seed = {m: {} for m in MODELS}
    picks = []
    for n, reference in enumerate(references()):
        rows = prompts_for(reference.spec)
        prompts = [r[0] for r in rows]
        embedding = torch.from_numpy(judges.identity_embeddings([reference.image])[0]).float()
        features = image_features(judges, [reference.image]) if args.plus else None
        # The ideal output: the world's drawing of the asked attributes on the reference's identity and seed.
        ideal = [np.asarray(draw(asked, seed=reference.seed).image) for _, asked, _ in rows]
        ideal_scores = measure(judges, reference, ideal, rows)
        for seed in range(args.seeds):
            latents = start_latents(reference.spec.identity, len(prompts), seed)
            results["ideal"] += ideal_scores
            images = {
                MODELS[0]: generate(pipes[0], prompts, latents, args.steps, args.guidance),
                MODELS[1]: generate(pipes[1], prompts, latents, args.steps, args.guidance, embedding, features, dropped),
                MODELS[2]: generate(pipes[1], prompts, latents, args.steps, args.guidance, torch.zeros_like(embedding),
                                    dropped if args.plus else None, dropped),
            }
            for model, batch in images.items():
                scored = measure(judges, reference, batch, rows)
                for row, (_, asked, _) in zip(scored, rows):
                    row["asked"], row["reference"] = asked.attributes(), reference.spec.attributes()
                results[model] += scored
                per_seed[model].setdefault(seed, []).extend(scored)
            if seed == 0:
                # Three prompts per identity in the grid: one, two and three attributes asked.
                for k in (n % 7, 7 + n % 7, 14 + n % 6):
                    picks.append((prompts[k], [np.asarray(reference.image), ideal[k]] + [images[m][k] for m in MODELS]))
        print(f"identity {reference.spec.identity}: {time.perf_counter() - began:.0f} s", flush=True)
    print(f"\n{len(IDENTITIES)} identities x {len(ASKS)} prompts x {args.seeds} seeds, {args.steps} DDIM steps, "
          f"guidance {args.guidance}; adapter {args.adapter}\n")
    print(table(results))
    print("\nPer seed (all prompts): " + "; ".join(
        f"{m}: PC " + "/".join(f"{fmean(r['pc'] for r in v):.3f}" for v in per_seed[m].values())
        + " IF " + "/".join(f"{fmean(r['if'] for r in v):.3f}" for v in per_seed[m].values()) for m in MODELS))
    print(paired(results))
    print("\nPer asked family: share of images showing the asked value, and showing the reference's value\n")
    print(family_table(results))
    print("\nWhat the identity embedding carries (linear probe, test accuracy vs chance):")
    for family, (accuracy, chance) in embedding_probe(judges).items():
        print(f"  {family}: {accuracy:.3f} (chance {chance:.3f})")
    save_grid(args.grid, picks)
    print(f"\ngrid: {args.grid}; {time.perf_counter() - began:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
