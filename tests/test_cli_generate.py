"""`freecure-edit generate` end to end on the toy world's committed SD and parser, with a random toy-sized
IP-Adapter FaceID (written in diffusers' layout) and the toy face pack; and its refusals."""

from __future__ import annotations

import json

import pytest

from cli_fixtures import assert_one_line_error, run_cli, snapshot
from freecure_edit.generation.faceid_layout import faceid_state_dict, save_faceid
from freecure_edit.toyworld import PortraitSpec, draw, model_dir

TOY_ID_DIM = 32  # the toy identity judge's embedding


@pytest.fixture(scope="module")
def toy_setup(tmp_path_factory):
    from diffusers import UNet2DConditionModel

    folder = tmp_path_factory.mktemp("generate")
    unet = UNet2DConditionModel.from_pretrained(str(model_dir("sd") / "unet"))
    adapter = save_faceid(faceid_state_dict(unet, TOY_ID_DIM, zero_lora_up=False),
                          folder / "ip-adapter-faceid_toy.safetensors")
    reference = folder / "reference.png"
    draw(PortraitSpec(identity=3, hair_colour="black"), seed=1).image.save(reference)
    return folder, adapter, reference


def base_args(adapter, reference):
    return ["generate", "--id-image", reference, "--prompt", "a photo of a man with red hair", "--adapter", adapter,
            "--model", model_dir("sd"), "--parser-model", model_dir("parser"), "--face-pack", "toy",
            "--device", "cpu", "--steps", "3"]


def test_generate_writes_the_image_its_intermediates_and_a_json_report(toy_setup):
    folder, adapter, reference = toy_setup
    before = snapshot(reference)
    out, steps = folder / "out.png", folder / "steps"
    result = run_cli([*base_args(adapter, reference), "-o", out, "--save-intermediates", steps, "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["output"] == str(out) and out.is_file()
    assert -1 <= report["identity_similarity"] <= 1 and -1 <= report["pd_identity_similarity"] <= 1
    counted = {phase: n for phase, n in report["stats"]["evaluations"].items() if n}
    assert counted == report["estimate"]["evaluations"]
    assert {p.name for p in steps.iterdir()} >= {"personalized.png", "foundation.png", "mask-union.png"}
    assert snapshot(reference) == before  # the reference is never touched


def test_generate_refuses_to_overwrite_before_loading_anything(toy_setup):
    folder, adapter, reference = toy_setup
    existing = folder / "existing.png"
    existing.write_bytes(b"keep me")
    result = run_cli([*base_args(adapter, reference), "-o", existing])
    assert_one_line_error(result, 2)
    assert existing.read_bytes() == b"keep me"


@pytest.mark.parametrize("make,code", [
    (lambda folder: folder / "missing.png", 3),
    (lambda folder: (folder / "not-an-image.png").write_bytes(b"\x89PNG broken") and folder / "not-an-image.png", 3),
])
def test_a_bad_reference_is_one_line(toy_setup, make, code):
    folder, adapter, _ = toy_setup
    result = run_cli([*base_args(adapter, make(folder)), "-o", folder / "never.png"])
    assert_one_line_error(result, code)
    assert not (folder / "never.png").exists()


def test_a_missing_adapter_is_one_line(toy_setup):
    folder, _, reference = toy_setup
    result = run_cli([*base_args(folder / "no-such-adapter.safetensors", reference), "-o", folder / "never2.png"])
    line = assert_one_line_error(result, 4)
    assert "no-such-adapter" in line


def test_generate_from_rows_writes_each_image_and_names_the_row_that_failed(toy_setup):
    folder, adapter, reference = toy_setup
    broken = folder / "broken.png"
    broken.write_bytes(b"not an image at all")
    rows = folder / "rows.csv"
    rows.write_text("id_image,prompt,seed,output\n"
                    f"{reference.name},a photo of a man with red hair,1,red.png\n"
                    f"{reference.name},\"a photo of a man, a hat\",,\n"
                    f"{broken.name},a photo of a man with red hair,2,never.png\n")
    out = folder / "many"
    args = [a for a in base_args(adapter, reference) if a not in ("--id-image", reference, "--prompt",
                                                                  "a photo of a man with red hair")]
    result = run_cli([*args, "--prompts", rows, "-o", out, "--json"])
    assert result.exit_code == 3, result.stderr  # the one failure's code: a bad image
    report = json.loads(result.stdout)
    assert [item["ok"] for item in report["items"]] == [True, True, False]
    assert (out / "red.png").is_file() and (out / "reference-002-seed0.png").is_file()
    assert not (out / "never.png").exists()
    assert report["items"][0]["seed"] == 1 and report["items"][1]["seed"] == 0
    assert "broken.png" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("text,message", [
    ("id_image,prompt,colour\nreference.png,x,red\n", "unknown column"),
    ("id_image,prompt\nmissing.png,x\n", "does not exist"),
    ("id_image,prompt,seed\nreference.png,x,two\n", "not a whole number"),
    ("id_image,prompt,output\nreference.png,x,a.png\nreference.png,y,a.png\n", "writes a.png"),
    ("id_image,prompt,output\nreference.png,x,../escape.png\n", "inside the output folder"),
])
def test_bad_rows_are_refused_before_any_model_loads(toy_setup, text, message):
    folder, adapter, reference = toy_setup
    rows = folder / "bad-rows.csv"
    rows.write_text(text)
    args = [a for a in base_args(adapter, reference) if a not in ("--id-image", reference, "--prompt",
                                                                  "a photo of a man with red hair")]
    result = run_cli([*args, "--prompts", rows, "-o", folder / "bad-out"])
    line = assert_one_line_error(result, 2)
    assert message in line


@pytest.mark.parametrize("adapter", ["faceid", "faceid-plusv2"])
def test_the_committed_toy_adapters_run_through_the_readme_command(toy_setup, adapter):
    folder, _, reference = toy_setup
    committed = model_dir("sd").parent / "adapters" / adapter
    out = folder / f"committed-{adapter}.png"
    result = run_cli([*base_args(committed, reference), "-o", out, "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["adapter"]["kind"] == ("faceid-plus" if "plus" in adapter else "faceid")
    assert report["adapter"].get("shortcut", True) is True  # a file named plusv2 gets PlusV2's shortcut
    assert out.is_file()
