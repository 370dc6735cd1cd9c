"""The grid PNG (freecure_edit.evaluation.grid): labelled columns, a row per edit, images enlarged by
nearest neighbour so that each pixel of a 64 px drawing stays a sharp block."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from freecure_edit.evaluation.grid import CELL_PX, GAP_PX, GRID_COLUMNS, TITLE_PX, edit_grid, masks_cell


def checkerboard(size: int = 64) -> Image.Image:
    cells = (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([cells] * 3, axis=2))


def test_the_grid_has_a_cell_per_column_and_row():
    photo = checkerboard()
    grid = edit_grid([("one", [photo] * 5), ("two", [photo] * 5)])
    assert grid.size == (len(GRID_COLUMNS) * (CELL_PX + GAP_PX) + GAP_PX,
                         TITLE_PX + 2 * (TITLE_PX + CELL_PX + GAP_PX) + GAP_PX)


def test_images_are_enlarged_by_nearest_neighbour():
    photo = checkerboard()
    grid = np.asarray(edit_grid([("one", [photo] * 5)]))
    cell = grid[2 * TITLE_PX: 2 * TITLE_PX + CELL_PX, GAP_PX: GAP_PX + CELL_PX]
    scale = CELL_PX // 64
    expected = np.kron(np.asarray(photo)[..., 0], np.ones((scale, scale), dtype=np.uint8))
    assert np.array_equal(cell[..., 0], expected)


def test_a_missing_image_is_a_grey_cell_and_titles_are_drawn():
    photo = Image.new("RGB", (64, 64), (255, 255, 255))
    grid = np.asarray(edit_grid([("a title", [photo, None, photo, photo, photo])]))
    second = grid[2 * TITLE_PX: 2 * TITLE_PX + CELL_PX, 2 * GAP_PX + CELL_PX: 2 * GAP_PX + 2 * CELL_PX]
    assert (second == 200).all()
    header, row_title = grid[:TITLE_PX], grid[TITLE_PX: 2 * TITLE_PX]
    assert (header < 128).any() and (row_title < 128).any()  # text on the white strips


def test_the_masks_cell_is_tinted_at_the_enlarged_size():
    photo = Image.new("RGB", (64, 64), (128, 128, 128))
    mask = torch.zeros(64, 64)
    mask[40:, 40:] = 1.0
    cell = np.asarray(masks_cell(photo, {"hair": mask}))
    assert cell.shape == (CELL_PX, CELL_PX, 3)
    assert not np.array_equal(cell[-5, -5], [128, 128, 128]) and np.array_equal(cell[100, 20], [128, 128, 128])
