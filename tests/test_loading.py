"""The loader: diffusers folders, single files, refusals, and one-line messages for missing models."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import pytest
import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError, UnsafeCheckpointError
from freecure_edit.models.devices import dtype_kwarg
from freecure_edit.models.loading import load_pipeline, pipeline_kind
from freecure_edit.testing import tiny_sd_pipeline
from freecure_edit.testing.single_file import write_sd15_single_file


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_a_diffusers_folder_loads_on_the_cpu_in_fp32(tiny_model_folder, kind):
    pipe = load_pipeline(tiny_model_folder(kind, "random"), device="cpu")
    assert pipeline_kind(pipe) == kind
    assert pipe.unet.dtype == torch.float32
    assert pipe.device.type == "cpu"
    assert getattr(pipe, "safety_checker", None) is None


def test_a_single_safetensors_file_loads_with_a_local_config(tmp_path, tiny_model_folder):
    original = tiny_sd_pipeline("smooth")
    checkpoint = write_sd15_single_file(original, tmp_path / "tiny-sd15.safetensors")

    pipe = load_pipeline(checkpoint, config=tiny_model_folder("sd", "smooth"), device="cpu")

    assert pipeline_kind(pipe) == "sd"
    for name, tensor in original.unet.state_dict().items():
        assert torch.equal(pipe.unet.state_dict()[name], tensor), name


def test_loading_asks_for_the_dtype_by_the_installed_diffusers_name(tmp_path, tiny_model_folder):
    # diffusers 0.40 renamed torch_dtype to dtype and warns on the old name at every load.
    checkpoint = write_sd15_single_file(tiny_sd_pipeline("smooth"), tmp_path / "tiny-sd15.safetensors")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*torch_dtype.*")
        load_pipeline(tiny_model_folder("sd", "random"), device="cpu")
        load_pipeline(checkpoint, config=tiny_model_folder("sd", "smooth"), device="cpu")


@pytest.mark.parametrize(("release", "name"), [("0.35.2", "torch_dtype"), ("0.39.0", "torch_dtype"),
                                                ("0.40.0", "dtype"), ("0.42.1", "dtype"), ("0.43.0.dev0", "dtype")])
def test_the_dtype_argument_is_named_as_the_release_expects(monkeypatch, release, name):
    import diffusers

    monkeypatch.setattr(diffusers, "__version__", release)
    assert dtype_kwarg(torch.float16) == {name: torch.float16}


def test_a_single_file_without_config_offline_names_the_option(tmp_path):
    checkpoint = write_sd15_single_file(tiny_sd_pipeline("zero"), tmp_path / "model.safetensors")
    with pytest.raises(ModelNotFoundError, match="--model-config"):
        load_pipeline(checkpoint, device="cpu")


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin"])
def test_pickled_checkpoints_are_refused_unless_allowed(tmp_path, suffix):
    checkpoint = tmp_path / f"model{suffix}"
    checkpoint.write_bytes(b"not even read")
    with pytest.raises(UnsafeCheckpointError, match="arbitrary code"):
        load_pipeline(checkpoint, device="cpu")


def test_a_missing_hub_model_gives_one_line_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError) as caught:
        load_pipeline("nobody-here/no-such-model", device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert "hf download nobody-here/no-such-model" in message
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("source", ["./missing-folder", "/no/such/model.safetensors", "missing.safetensors"])
def test_a_missing_path_is_named(source):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_pipeline(source, device="cpu")


def test_a_folder_that_is_not_a_pipeline_is_named(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model_index.json"):
        load_pipeline(tmp_path, device="cpu")


def test_an_unknown_checkpoint_format_is_refused(tmp_path):
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"\x00")
    with pytest.raises(ConfigurationError, match="unknown checkpoint format"):
        load_pipeline(weights, device="cpu")


def test_a_requested_gpu_that_is_absent_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigurationError, match="no CUDA GPU"):
        load_pipeline("./anything", device="cuda")


def test_importing_the_package_and_cli_help_stay_light():
    code = (
        "import sys, freecure_edit\nimport freecure_edit.cli.app as m\n"
        "from click.testing import CliRunner\n"
        "r = CliRunner().invoke(m.cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [n for n in ('torch', 'diffusers', 'transformers') if n in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
