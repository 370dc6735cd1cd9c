"""Working sizes out of the machine's reach (issue 29 D14): refused with one line and exit 2 before any
model loads, judged from the model's files and the free memory, instead of a silent kill by the kernel.
The free memory is set by the test (free_memory patched), so the rule is tested, not this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_fixtures import assert_one_line_error, cli_models, run_cli, write_photo  # noqa: F401
from freecure_edit.errors import ConfigurationError
from freecure_edit.models import memory
from freecure_edit.models.memory import DenoiserShape, activation_floor, check_working_memory

MB = 1024 ** 2


def test_the_floor_grows_with_the_area_and_the_width():
    shape = DenoiserShape(320, 8)

    assert activation_floor(shape, 1024) == 4 * activation_floor(shape, 512)
    assert activation_floor(DenoiserShape(640, 8), 512) == 2 * activation_floor(shape, 512)
    # SD 1.5 at 512: 2 rows x 2 tensors x 64 x 64 positions x 320 channels x 4 bytes = 21 MB; a FLUX token
    # covers 16 px.
    assert activation_floor(shape, 512) == 2 * 2 * 64 * 64 * 320 * 4
    assert activation_floor(DenoiserShape(3072, 16), 1024) == 2 * 2 * 64 * 64 * 3072 * 4


def test_a_size_is_refused_only_when_weights_and_floor_exceed_the_free_memory():
    shape = DenoiserShape(320, 8)
    floor = activation_floor(shape, 4096)

    check_working_memory(shape, 100 * MB, 4096, "cpu", free=floor + 100 * MB)
    with pytest.raises(ConfigurationError, match=r"a working size of 4096 px needs at least .* and the CPU has"):
        check_working_memory(shape, 100 * MB, 4096, "cpu", free=floor + 100 * MB - 1)
    check_working_memory(None, 10 ** 15, 4096, "cpu", free=1)  # nothing known: nothing refused


def test_the_model_folder_gives_the_shape_and_only_the_denoisers_own_weights(tmp_path):
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text('{"block_out_channels": [320, 640, 1280, 1280]}')
    (unet / "diffusion_pytorch_model.safetensors").write_bytes(b"x" * 1000)
    (unet / "diffusion_pytorch_model.bin").write_bytes(b"x" * 999)  # the same weights again, pickled
    (unet / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"x" * 500)  # a variant not loaded
    (tmp_path / "text_encoder").mkdir()
    (tmp_path / "text_encoder" / "model.safetensors").write_bytes(b"x" * 7)

    assert memory.model_memory_facts(str(tmp_path)) == (DenoiserShape(320, 8), 1000)
    single = tmp_path / "model.safetensors"
    single.write_bytes(b"x" * 42)
    assert memory.model_memory_facts(str(single)) == (None, 42)


def test_the_tiny_folder_reads_as_its_unet(tiny_model_folder):
    shape, weights = memory.model_memory_facts(str(tiny_model_folder("sd", "smooth")))

    assert shape is not None and shape.pixels_per_position == 8 and weights > 0


@pytest.mark.parametrize("command", ["fix", "batch"])
def test_the_command_line_refuses_a_size_out_of_reach_before_loading(cli_models, tmp_path, monkeypatch,  # noqa: F811
                                                                     command):
    monkeypatch.setattr(memory, "free_memory", lambda device: 1)  # any size is out of reach
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = write_photo(photos / "photo.png")
    loaded = []
    monkeypatch.setattr("freecure_edit.models.loading.load_pipeline", lambda *a, **k: loaded.append(1))
    args = ["fix", photo] if command == "fix" else ["batch", photos, "-o", tmp_path / "out"]

    result = run_cli([*args, "--prompt", "a woman with red hair", *cli_models.args(), "--working-size", "64"])

    line = assert_one_line_error(result, 2)
    assert "a working size of 64 px needs at least" in line and "--working-size" in line
    assert loaded == [] and not (photos / "photo.cured.png").exists()


def test_the_library_refuses_it_too(load_tiny, monkeypatch):
    from freecure_edit import FreeCure
    from freecure_edit.cure.config import CureConfig
    from conftest import random_photo
    from cure_fixtures import HAIR_ON_TOP, FixedRegionParser

    freecure = FreeCure(load_tiny("sd"), parser=FixedRegionParser(HAIR_ON_TOP))
    monkeypatch.setattr(memory, "free_memory", lambda device: 1)  # any size is out of reach

    with pytest.raises(ConfigurationError, match="working size of 64 px"):
        freecure.cure(random_photo(64, 48), "a woman with red hair", CureConfig(working_size=64, steps=2))
