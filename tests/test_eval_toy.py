"""`freecure-edit eval` end to end in the toy world: the toy SD, its parser and the toy judges as the
`toy` metric, on drawn portraits. Skipped until the toy world's trained models are in the package.

Toy drawings saved with their recipe also get the distance to the ideal edit (in the results, the
tables, the report and its grid); any other photo gets None there, not zero."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cli_fixtures import assert_one_line_error, run_cli
from freecure_edit.toyworld.drawing_files import save_drawing
from freecure_edit.toyworld.ideal import DISTANCE_NAMES
from freecure_edit.toyworld.world import PortraitSpec, draw

assets = pytest.importorskip("freecure_edit.toyworld.assets", reason="the toy world is not in this version")
MODELS = {name: assets.model_dir(name) for name in ("sd", "parser", "judges")}
pytestmark = pytest.mark.skipif(
    not ((MODELS["sd"] / "model_index.json").exists() and (MODELS["parser"] / "config.json").exists()
         and any(MODELS["judges"].glob("*.safetensors"))),
    reason="the toy world's models are not trained yet")


def test_eval_runs_end_to_end_with_the_toy_judges(tmp_path):
    from freecure_edit.toyworld.data import drawing_set

    photos = tmp_path / "photos"
    photos.mkdir()
    for index, image in enumerate(drawing_set(2, seed=7).images):
        Image.fromarray(image).save(photos / f"toy{index}.png")
    output = tmp_path / "out"
    args = ["eval", photos, "-o", output, "--model", MODELS["sd"], "--parser-model", MODELS["parser"],
            "--metrics", "toy,psnr", "--toy-judges", MODELS["judges"], "--device", "cpu", "--steps", "10",
            "-m", "input", "-m", "fd", "-m", "cure", "-m", "img2img", "-p", "a <S> wearing sunglasses",
            "-p", "a <S> wearing sunglasses, smiling", "--json"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["results"] == summary["expected"] == 2 * 2 * 4
    rows = summary["table1"][str(MODELS["sd"])]
    assert rows["input"]["if"] == pytest.approx(1.0, abs=1e-5)
    for row in rows.values():
        assert 0.0 <= row["pc"] <= 1.0 and -1.0 <= row["if"] <= 1.0
    assert set(summary["table2"][str(MODELS["sd"])]) == {"1", "2"}


def test_toy_judges_missing_is_a_missing_model(tmp_path):
    from conftest import random_photo

    random_photo(64, 64).save(tmp_path / "a.png")
    result = run_cli(["eval", tmp_path, "-o", tmp_path / "out", "--metrics", "toy", "--toy-judges", tmp_path / "none"])
    assert "judges" in assert_one_line_error(result, 4)
    assert not (tmp_path / "out").exists()


PROMPT = "a photo of a person with red hair"


@pytest.fixture(scope="module")
def toy_metric():
    from freecure_edit.evaluation.metrics import load_metric

    return load_metric("toy", toy_judges=str(MODELS["judges"]))


def drawing_file(tmp_path):
    drawing = draw(PortraitSpec(identity=4, hair_colour="black"), seed=21)
    return drawing, save_drawing(drawing, tmp_path / "toy.png")


def test_a_saved_drawing_is_scored_against_its_ideal_edit(tmp_path, toy_metric):
    from freecure_edit.evaluation.metrics import Sample

    drawing, path = drawing_file(tmp_path)
    unchanged = toy_metric.score(Sample(drawing.image, drawing.image, PROMPT, source=path))
    assert unchanged["ideal_mae_in"] > 20 and unchanged["ideal_mae_out"] == 0.0
    ideal = toy_metric.ideal(Sample(drawing.image, drawing.image, PROMPT, source=path))
    assert toy_metric.score(Sample(drawing.image, ideal, PROMPT, source=path))["ideal_mae_in"] == 0.0
    assert np.array_equal(np.asarray(ideal), np.asarray(draw(drawing.spec.with_changes(hair_colour="red"), 21).image))


def test_without_a_recipe_the_distances_are_none_not_zero(tmp_path, toy_metric):
    from freecure_edit.evaluation.metrics import Sample

    drawing = draw(PortraitSpec(identity=4), seed=21)
    drawing.image.save(tmp_path / "plain.png")
    for source in (tmp_path / "plain.png", None):
        scores = toy_metric.score(Sample(drawing.image, drawing.image, PROMPT, source=source))
        assert all(scores[name] is None for name in DISTANCE_NAMES) and scores["pc"] is not None


def test_a_drawing_edited_after_saving_gets_a_warning_and_no_distance(tmp_path, toy_metric):
    from freecure_edit.evaluation.metrics import Sample

    drawing, path = drawing_file(tmp_path)
    with Image.open(path) as opened:
        text = opened.text
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(*next(iter(text.items())))
    Image.new("RGB", (64, 64)).save(path, pnginfo=info)
    sample = Sample(drawing.image, drawing.image, PROMPT, source=path)
    assert toy_metric.score(sample)["ideal_mae_in"] is None
    assert any("no ideal edit" in warning for warning in sample.warnings)


def test_eval_reports_the_distance_and_draws_the_grid_for_toy_drawings(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    save_drawing(draw(PortraitSpec(identity=4, hair_colour="black"), seed=21), photos / "drawn.png")
    draw(PortraitSpec(identity=9, hair_colour="brown"), seed=22).image.save(photos / "plain.png")
    output = tmp_path / "out"
    args = ["eval", photos, "-o", output, "--model", MODELS["sd"], "--parser-model", MODELS["parser"],
            "--metrics", "toy", "--toy-judges", MODELS["judges"], "--device", "cpu", "--steps", "4",
            "-m", "input", "-m", "cure", "-p", "a photo of a <S> with red hair", "--subject", "woman", "--json"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]
    by_photo = {(line["photo"], line["method"]): line for line in lines}
    assert by_photo[("drawn.png", "input")]["ideal_mae_out"] == 0.0
    assert by_photo[("drawn.png", "input")]["ideal_mae_in"] > 20
    assert all(by_photo[("plain.png", method)][name] is None for method in ("input", "cure") for name in DISTANCE_NAMES)
    # The tables average over the drawings that have an ideal; the plain photo adds nothing, not zero.
    row = json.loads(result.stdout)["table1"][str(MODELS["sd"])]["input"]
    assert row["ideal_mae_in"] == by_photo[("drawn.png", "input")]["ideal_mae_in"]
    report = (output / "report.html").read_text()
    assert "MAE to ideal, inside" in report and 'src="grid-m0.png"' in report
    with Image.open(output / "grid-m0.png") as grid:
        assert grid.width > 5 * 64 and grid.height > 64  # one row: the drawing; the plain photo has no ideal
        assert grid.height < 2 * 192
    assert list((output / "images" / "m0").glob("*/*/ideal.png")) and len(list((output / "images").rglob("ideal.png"))) == 1
