"""Toy drawings saved with their recipe (freecure_edit.toyworld.drawing_files): redrawn from the file
alone, and refused when the file is no longer the drawing it names."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from freecure_edit.toyworld.drawing_files import drawing_from_file, save_drawing
from freecure_edit.toyworld.world import PortraitSpec, draw


def test_a_saved_drawing_comes_back_with_its_spec_seed_and_labels(tmp_path):
    drawing = draw(PortraitSpec(identity=5, hair_colour="blonde", glasses="round"), seed=42)
    path = save_drawing(drawing, tmp_path / "toy.png")
    again = drawing_from_file(path)
    assert (again.spec, again.seed) == (drawing.spec, 42)
    assert np.array_equal(np.asarray(again.image), np.asarray(drawing.image))
    assert np.array_equal(again.labels, drawing.labels)


def test_it_is_redrawn_at_the_size_asked(tmp_path):
    drawing = draw(PortraitSpec(identity=1), seed=3)
    again = drawing_from_file(save_drawing(drawing, tmp_path / "toy.png"), size=128)
    assert again.image.size == (128, 128)
    assert np.array_equal(np.asarray(again.image), np.asarray(draw(drawing.spec, 3, 128).image))


def test_any_other_image_is_no_drawing(tmp_path):
    draw(PortraitSpec(identity=1), seed=3).image.save(tmp_path / "plain.png")
    assert drawing_from_file(tmp_path / "plain.png") is None


def test_a_drawing_edited_after_saving_is_refused(tmp_path):
    path = save_drawing(draw(PortraitSpec(identity=1), seed=3), tmp_path / "toy.png")
    with Image.open(path) as opened:
        info, pixels = opened.text, np.asarray(opened).copy()
    pixels[:4, :4] = 0
    from PIL import PngImagePlugin

    chunk = PngImagePlugin.PngInfo()
    for key, value in info.items():
        chunk.add_text(key, value)
    Image.fromarray(pixels).save(path, pnginfo=chunk)
    with pytest.raises(ValueError, match="not the drawing"):
        drawing_from_file(path)


def test_a_drawing_without_a_seed_cannot_be_saved(tmp_path):
    drawing = draw(PortraitSpec(identity=1), seed=3)
    from dataclasses import replace

    with pytest.raises(ValueError, match="seed"):
        save_drawing(replace(drawing, seed=None), tmp_path / "toy.png")
