"""The report's grid for toy drawings: input | FD | masks | cure | ideal, one row per photo and prompt
whose ideal edit the toy metric saved, as one PNG beside report.html (`evaluation.grid.edit_grid`, the
same grid the toy experiment writes)."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image

from freecure_edit.evaluation.grid import GRID_COLUMNS, edit_grid

IDEAL_NAME = "ideal.png"  # beside each photo and prompt's masks.png, written by the runner


def grid_name(model_index: int) -> str:
    return f"grid-m{model_index}.png"


def ideal_grid_section(folder: Path, lines, settings, photos, prompts, model_index: int, model: str) -> str:
    """The grid's PNG written into `folder` and its HTML; "" when no photo of this model has an ideal."""
    from freecure_edit.imageio.atomic import write_atomically

    cure = next((method for method in settings.methods if method.split(":")[0] == "cure"), None)
    by_key = {(line["model"], line["photo"], line["prompt"], line["method"], line["seed"]): line for line in lines}
    rows = []
    for photo in photos:
        for prompt in prompts:
            base = folder / "images" / f"m{model_index}" / photo.slug
            if not (base / prompt.id / IDEAL_NAME).exists():
                continue
            line = by_key.get((model, photo.name, prompt.text, cure, settings.seeds[0]))
            files = [base / "input.png", base / prompt.id / "fd.png", base / prompt.id / "masks.png",
                     folder / line["image"] if line else None, base / prompt.id / IDEAL_NAME]
            rows.append((f"{photo.name}: {prompt.text}", [_opened(file) for file in files]))
    if not rows:
        return ""
    grid = edit_grid(rows)
    name = grid_name(model_index)
    write_atomically(folder / name, lambda handle: grid.save(handle, format="PNG"), overwrite=True)
    what = f"{html.escape(cure)}, first seed" if cure else "no cure in this run"
    return (f"<h2>Grid against the ideal edit: {html.escape(model)}</h2>"
            f"<p>{' | '.join(GRID_COLUMNS)} ({what}); the ideal is the toy world's own redraw.</p>"
            f'<img class="plot" src="{name}" alt="input, FD, masks, cure and ideal edit per photo and prompt">')


def _opened(path: Path | None) -> Image.Image | None:
    if path is None or not path.is_file():
        return None
    with Image.open(path) as image:
        return image.convert("RGB")


__all__ = ["IDEAL_NAME", "grid_name", "ideal_grid_section"]
