"""Model files that are broken or of the wrong kind: one line naming the file and the fault, before the
cure. Reading faults exit 4; an inpainting (or other wrong-channel) model exits 2."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cli_fixtures import assert_one_line_error, run_cli, write_photo
from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.models.loading import load_pipeline


@pytest.fixture(scope="module")
def sd_single_file(tmp_path_factory):
    from freecure_edit.testing import tiny_sd_pipeline
    from freecure_edit.testing.single_file import write_sd15_single_file

    return write_sd15_single_file(tiny_sd_pipeline(), tmp_path_factory.mktemp("single") / "tiny-sd15.safetensors")


@pytest.fixture(scope="module")
def sd_folder(tiny_model_folder):
    return tiny_model_folder("sd", "random")


def fix_with(model, tmp_path, *extra):
    photo = write_photo(tmp_path / "in.png")
    return run_cli(["fix", photo, "--prompt", "a woman with red hair", "-o", tmp_path / "out.png",
                    "--model", model, "--device", "cpu", "--no-detect", "--steps", "2", *extra])


def test_a_truncated_checkpoint_is_named_as_cut_short(sd_single_file, tmp_path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(sd_single_file.read_bytes()[:-5000])
    line = assert_one_line_error(fix_with(cut, tmp_path), 4)
    assert str(cut) in line and "truncated" in line and "download it again" in line


def test_a_web_page_saved_as_safetensors_is_named_as_one(tmp_path):
    page = tmp_path / "model.safetensors"
    page.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    line = assert_one_line_error(fix_with(page, tmp_path), 4)
    assert str(page) in line and "web page" in line


@pytest.mark.parametrize("keys, what", [
    (["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
      "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"], "a LoRA"),
    (["unet.down_blocks.0.attentions.0.proj_in.lora_A.weight"], "a LoRA"),
    (["emb_params"], "a textual-inversion embedding"),
])
def test_an_adapter_given_as_the_model_is_named_as_one(tmp_path, keys, what):
    from safetensors.torch import save_file

    adapter = tmp_path / "adapter.safetensors"
    save_file({key: torch.zeros(4, 4) for key in keys}, str(adapter))
    line = assert_one_line_error(fix_with(adapter, tmp_path), 4)
    assert str(adapter) in line and what in line and "not a model checkpoint" in line


def test_a_file_without_a_unet_says_so(tmp_path):
    from safetensors.torch import save_file

    vae_only = tmp_path / "vae.safetensors"
    save_file({"first_stage_model.encoder.conv_in.weight": torch.zeros(4, 3, 3, 3)}, str(vae_only))
    line = assert_one_line_error(fix_with(vae_only, tmp_path), 4)
    assert "holds no UNet or transformer" in line


def test_a_folder_without_a_component_names_it(sd_folder, tmp_path):
    broken = tmp_path / "no-vae"
    shutil.copytree(sd_folder, broken)
    shutil.rmtree(broken / "vae")
    line = assert_one_line_error(fix_with(broken, tmp_path), 4)
    assert str(broken) in line and "'vae'" in line and "missing" in line


def test_a_damaged_weight_file_in_a_folder_is_exit_4_naming_the_folder(sd_folder, tmp_path):
    broken = tmp_path / "damaged"
    shutil.copytree(sd_folder, broken)
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    line = assert_one_line_error(fix_with(broken, tmp_path), 4)
    assert str(broken) in line


def test_an_inpainting_single_file_is_refused_before_loading(sd_single_file, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(sd_single_file))
    first = "model.diffusion_model.input_blocks.0.0.weight"
    state[first] = torch.zeros(state[first].shape[0], 9, *state[first].shape[2:])
    inpainting = tmp_path / "inpainting.safetensors"
    save_file(state, str(inpainting))
    line = assert_one_line_error(fix_with(inpainting, tmp_path), 2)
    assert str(inpainting) in line and "an inpainting" in line and "9 input channels" in line


def test_an_inpainting_unet_in_a_folder_is_refused_before_loading(sd_folder, tmp_path):
    folder = tmp_path / "inpainting"
    shutil.copytree(sd_folder, folder)
    config_file = folder / "unet" / "config.json"
    config = json.loads(config_file.read_text())
    config["in_channels"] = 9
    config_file.write_text(json.dumps(config))
    with pytest.raises(ConfigurationError, match="an inpainting"):
        load_pipeline(str(folder), device="cpu")


def test_a_pipeline_loaded_any_way_is_checked_for_its_channels(sd_folder):
    from freecure_edit.models.checks import check_channels

    pipe = load_pipeline(str(sd_folder), device="cpu")
    check_channels(pipe, "tiny")
    pipe.unet.register_to_config(in_channels=9)
    with pytest.raises(ConfigurationError, match="tiny: is an inpainting"):
        check_channels(pipe, "tiny")


def test_a_given_model_config_is_not_asked_for_again(sd_single_file, tmp_path):
    """The file is sound but does not fit the configuration given: the message says what failed, not
    "pass --model-config"."""
    from freecure_edit.testing import save_tiny_pipeline

    other = save_tiny_pipeline("sdxl", tmp_path / "sdxl-config")
    with pytest.raises(ModelNotFoundError) as raised:
        load_pipeline(str(sd_single_file), config=str(other), kind="sd", device="cpu")
    message = str(raised.value)
    assert "could not be loaded with --model-config" in message and "needs its pipeline configuration" not in message
