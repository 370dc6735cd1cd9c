"""Cure every photo of a prompts file with the Python API, and save a before/after strip of each: the
photo, the photo branch at a few of its steps (the step callback's previews), and the cure.

    python samples/before_after.py samples/prompts.csv --images samples --out strips --steps 20

The prompts file is the one `freecure-edit batch --prompts` reads (CSV or JSONL: file, prompt, and any
cure setting), read by the same code. The models load once for the whole list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import PIL.Image

from freecure_edit import CureCallbacks, CureConfig, FreeCure
from freecure_edit.batch.prompts_file import read_prompts_file
from freecure_edit.imageio import load_image
from freecure_edit.overrides import read_overrides

STRIP_HEIGHT = 256
PREVIEWS = 3  # photo-branch steps shown between the before and the after


def main(argv: list[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    fc = FreeCure.from_pretrained(arguments.model, parser_model=arguments.parser_model, device=arguments.device,
                                  detector="buffalo_l" if arguments.detect else None)
    arguments.out.mkdir(parents=True, exist_ok=True)
    base = {"steps": arguments.steps} if arguments.steps else {}
    for row in read_prompts_file(arguments.prompts):
        if not row.prompt:
            print(f"{row.where}: no prompt, skipped")
            continue
        settings = {**base, **read_overrides(row.settings, row.where).config, "detect": arguments.detect}
        photo = load_image(arguments.images / row.file)  # upright, 8-bit sRGB, as the cure sees it
        previews: list[PIL.Image.Image] = []
        callbacks = CureCallbacks(
            on_step=lambda step: previews.append(step.preview()) if step.phase in ("fasa", "rofa") else None,
            on_result=lambda result: print(f"{row.file}: cured {', '.join(a.text for a in result.attributes)} "
                                           f"in {result.stats.total_seconds:.1f} s"),
        )
        result = fc.cure(photo, row.prompt, CureConfig(**settings), callbacks=callbacks)
        strip = _strip([photo.rgb, *_evenly(previews, PREVIEWS), result.image])
        strip.save(arguments.out / f"{Path(row.file).stem}.strip.png")


def _evenly(items: list, count: int) -> list:
    """`count` items spread over the list, ending with its last."""
    if len(items) <= count:
        return items
    return [items[round((index + 1) * len(items) / count) - 1] for index in range(count)]


def _strip(images: list[PIL.Image.Image]) -> PIL.Image.Image:
    """The images side by side at one height (the latent previews are small: they are scaled up)."""
    scaled = [image.resize((max(1, round(image.width * STRIP_HEIGHT / image.height)), STRIP_HEIGHT),
                           PIL.Image.BICUBIC) for image in images]
    strip = PIL.Image.new("RGB", (sum(image.width for image in scaled), STRIP_HEIGHT), "white")
    left = 0
    for image in scaled:
        strip.paste(image, (left, 0))
        left += image.width
    return strip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("prompts", type=Path, help="a CSV or JSONL prompts file")
    parser.add_argument("--images", type=Path, default=Path("."), help="the folder its file names are in")
    parser.add_argument("--out", type=Path, default=Path("strips"), help="where the strips go")
    parser.add_argument("--model", default="stable-diffusion-v1-5/stable-diffusion-v1-5")
    parser.add_argument("--parser-model", help="the SegFormer face parser (default: jonathandinu/face-parsing)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the first available)")
    parser.add_argument("--steps", type=int, help="sampling steps, unless a row sets them")
    parser.add_argument("--detect", action=argparse.BooleanOptionalAction, default=False,
                        help="cure detected faces (needs the insightface pack); by default the whole image")
    return parser


if __name__ == "__main__":
    main()
