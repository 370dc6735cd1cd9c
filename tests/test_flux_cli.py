"""`freecure-edit fix --model <a FLUX folder>`: the model family comes from the checkpoint."""

from __future__ import annotations

import json

import PIL.Image

from cli_fixtures import assert_one_line_error, cli_models, run_cli, write_photo  # noqa: F401

HAIR = "a woman with black curly hair"


def flux_args(cli_models, tiny_model_folder, *extra):  # noqa: F811
    args = cli_models.args()
    args[args.index("--model") + 1] = str(tiny_model_folder("flux", "smooth"))
    return [*args, "--guidance", "3.5", "--working-size", "64", *extra]


def test_fix_cures_with_flux_and_counts_one_row_per_prediction(cli_models, tiny_model_folder, tmp_path):  # noqa: F811
    photo = write_photo(tmp_path / "photo.png")
    output = tmp_path / "fixed.png"

    result = run_cli(["fix", photo, "--prompt", HAIR, "-o", output, "--json",
                      *flux_args(cli_models, tiny_model_folder)])

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    # steps 2: inversion 3, foundation 2, FASA 2; no guidance rows on a guidance-distilled model
    assert report["stats"]["total_evaluations"] == 7
    assert "7 denoiser evaluations" in result.stderr, "the estimate counts as the cure spends"
    with PIL.Image.open(output) as cured:
        assert cured.size == (64, 48)


def test_null_text_on_flux_is_one_line_and_a_usage_error(cli_models, tiny_model_folder, tmp_path):  # noqa: F811
    photo = write_photo(tmp_path / "photo.png")
    result = run_cli(["fix", photo, "--prompt", HAIR, "-o", tmp_path / "out.png",
                      *flux_args(cli_models, tiny_model_folder, "--inversion", "null-text")])
    line = assert_one_line_error(result, 2)
    assert "guidance-distilled" in line
    assert not (tmp_path / "out.png").exists()
