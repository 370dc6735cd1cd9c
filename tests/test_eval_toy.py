"""`freecure-edit eval` end to end in the toy world: the toy SD, its parser and the toy judges as the
`toy` metric, on drawn portraits. Skipped until the toy world's trained models are in the package."""

from __future__ import annotations

import json

import pytest

from cli_fixtures import assert_one_line_error, run_cli

assets = pytest.importorskip("freecure_edit.toyworld.assets", reason="the toy world is not in this version")
MODELS = {name: assets.model_dir(name) for name in ("sd", "parser", "judges")}
pytestmark = pytest.mark.skipif(
    not ((MODELS["sd"] / "model_index.json").exists() and (MODELS["parser"] / "config.json").exists()
         and any(MODELS["judges"].glob("*.safetensors"))),
    reason="the toy world's models are not trained yet")


def test_eval_runs_end_to_end_with_the_toy_judges(tmp_path):
    from PIL import Image

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
