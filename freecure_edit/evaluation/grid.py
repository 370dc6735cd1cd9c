"""One PNG that shows what a table's numbers mean: a row per edit, a labelled column per stage.

    grid = edit_grid([("a man with red hair", [photo, fd, masks, cure, ideal]), ...])
    grid.save("grid.png")

Images are enlarged by nearest neighbour, so a 64 px toy drawing shows its own pixels, not a blur that
the enlargement made. A missing image (no FD for a prompt that names nothing) is a grey cell.
"""

from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

GRID_COLUMNS = ("input", "FD", "masks", "cure", "ideal")
CELL_PX = 192  # a 64 px drawing at 3x
GAP_PX = 4
TITLE_PX = 20
_BACKGROUND = (255, 255, 255)
_MISSING = (200, 200, 200)
_TEXT = (20, 20, 20)


def enlarged(image: Image.Image, width: int = CELL_PX) -> Image.Image:
    """`image` at `width` px wide by nearest neighbour (its height in proportion)."""
    height = max(1, round(image.height * width / image.width))
    return image.convert("RGB").resize((width, height), Image.NEAREST)


def masks_cell(photo: Image.Image, masks: dict[str, torch.Tensor], width: int = CELL_PX) -> Image.Image:
    """The masks over the photo, tinted after enlarging, so that the legend's names stay readable."""
    from freecure_edit.masks import mask_overlay

    return mask_overlay(enlarged(photo, width), masks)


def edit_grid(rows: Sequence[tuple[str, Sequence[Image.Image | None]]], columns: Sequence[str] = GRID_COLUMNS,
              cell: int = CELL_PX) -> Image.Image:
    """A header of column names, then per row its title above its images (None: a grey cell)."""
    font = _font()
    cells = [[None if image is None else enlarged(image, cell) for image in images] for _, images in rows]
    heights = [max([image.height for image in row if image is not None], default=cell) for row in cells]
    width = len(columns) * (cell + GAP_PX) + GAP_PX
    height = TITLE_PX + sum(TITLE_PX + h + GAP_PX for h in heights) + GAP_PX
    grid = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for index, name in enumerate(columns):
        draw.text((GAP_PX + index * (cell + GAP_PX) + 2, 3), name, fill=_TEXT, font=font)
    top = TITLE_PX
    for (title, _), row, row_height in zip(rows, cells, heights):
        draw.text((GAP_PX + 2, top + 3), title, fill=_TEXT, font=font)
        top += TITLE_PX
        for index in range(len(columns)):
            left = GAP_PX + index * (cell + GAP_PX)
            image = row[index] if index < len(row) else None
            if image is None:
                draw.rectangle((left, top, left + cell - 1, top + row_height - 1), fill=_MISSING)
            else:
                grid.paste(image, (left, top))
        top += row_height + GAP_PX
    return grid


def _font():
    try:
        return ImageFont.load_default(size=14)
    except TypeError:  # Pillow before 10.1 has only its small bitmap font
        return ImageFont.load_default()


__all__ = ["CELL_PX", "GRID_COLUMNS", "edit_grid", "enlarged", "masks_cell"]
