"""A FLUX transformer in Black Forest Labs' original single-file layout (as flux1-dev.safetensors ships),
loaded through the project's loader, at the tiny model's width and checked against diffusers' own
converter at FLUX.1's width."""

from __future__ import annotations

import pytest
import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.models.loading import load_pipeline, pipeline_kind
from freecure_edit.models.flux_bfl import bfl_to_diffusers
from freecure_edit.testing.flux import tiny_flux_transformer
from freecure_edit.testing.flux_bfl import bfl_state_dict, save_bfl_flux_transformer


@pytest.mark.parametrize("variant", ["dev", "schnell"])
@pytest.mark.parametrize("prefix", ["", "model.diffusion_model."], ids=["bare", "prefixed"])
def test_a_bfl_layout_file_loads_every_tensor_through_the_loader(tiny_model_folder, tmp_path, variant, prefix):
    torch.manual_seed(11)  # weights unlike the config folder's, so the file's are the ones that must load
    transformer = tiny_flux_transformer(variant, num_layers=2, num_single_layers=2)
    path = save_bfl_flux_transformer(transformer, tmp_path / "flux1-tiny.safetensors", prefix)
    folder = tiny_model_folder("flux" if variant == "dev" else "flux-schnell", "random")

    pipe = load_pipeline(path, config=_two_block_config(folder, tmp_path), device="cpu")

    assert pipeline_kind(pipe) == "flux"
    expected, loaded = transformer.state_dict(), pipe.transformer.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[key], expected[key]) for key in expected)


def _two_block_config(folder, tmp_path):
    """A copy of the tiny FLUX folder whose transformer config has two blocks of each kind."""
    import json
    import shutil

    copy = tmp_path / "two-blocks"
    shutil.copytree(folder, copy)
    config_file = copy / "transformer" / "config.json"
    config = json.loads(config_file.read_text())
    config.update(num_layers=2, num_single_layers=2)
    config_file.write_text(json.dumps(config))
    return copy


def test_the_converter_agrees_with_diffusers_at_flux_width():
    """diffusers' converter assumes 3072 channels and a 4x MLP; at that width both must give the same
    tensors. It splits and chunks along the first dimension only, so narrow columns keep this cheap."""
    from diffusers.loaders.single_file_utils import convert_flux_transformer_checkpoint_to_diffusers

    checkpoint = _flux_width_bfl_checkpoint()
    ours = bfl_to_diffusers(dict(checkpoint))
    theirs = convert_flux_transformer_checkpoint_to_diffusers(dict(checkpoint))
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)


def _flux_width_bfl_checkpoint() -> dict[str, torch.Tensor]:
    """BFL names with FLUX.1's row counts (3072 wide, MLP 12288), two columns, distinct values."""
    inner, mlp, columns = 3072, 12288, 2
    counter = iter(range(1, 10_000))

    def tensor(rows: int) -> torch.Tensor:
        return torch.arange(rows * columns, dtype=torch.float32).reshape(rows, columns) + 1e5 * next(counter)

    rows = {"img_in": inner, "txt_in": inner, "time_in.in_layer": inner, "time_in.out_layer": inner,
            "vector_in.in_layer": inner, "vector_in.out_layer": inner, "guidance_in.in_layer": inner,
            "guidance_in.out_layer": inner, "final_layer.linear": 64, "final_layer.adaLN_modulation.1": 2 * inner}
    for part, count in (("img_mod.lin", 6 * inner), ("txt_mod.lin", 6 * inner), ("img_attn.qkv", 3 * inner),
                        ("txt_attn.qkv", 3 * inner), ("img_attn.proj", inner), ("txt_attn.proj", inner),
                        ("img_mlp.0", mlp), ("img_mlp.2", inner), ("txt_mlp.0", mlp), ("txt_mlp.2", inner)):
        rows[f"double_blocks.0.{part}"] = count
    for part, count in (("modulation.lin", 3 * inner), ("linear1", 3 * inner + mlp), ("linear2", inner)):
        rows[f"single_blocks.0.{part}"] = count
    checkpoint = {}
    for name, count in rows.items():
        checkpoint[f"{name}.weight"] = tensor(count)
        checkpoint[f"{name}.bias"] = tensor(count)[:, 0].contiguous()
    for block, parts in (("double_blocks.0.", ("img_attn", "txt_attn")), ("single_blocks.0.", ("",))):
        for part in parts:
            stem = f"{block}{part}.norm." if part else f"{block}norm."
            checkpoint[stem + "query_norm.scale"] = tensor(128)[:, 0].contiguous()
            checkpoint[stem + "key_norm.scale"] = tensor(128)[:, 0].contiguous()
    return checkpoint


def test_a_bfl_file_missing_a_tensor_is_refused_in_one_line(tiny_model_folder, tmp_path):
    from safetensors.torch import save_file

    weights = bfl_state_dict(tiny_flux_transformer("dev"))
    del weights["single_blocks.0.linear2.weight"]
    path = tmp_path / "broken.safetensors"
    save_file(weights, str(path))
    with pytest.raises(ConfigurationError) as raised:
        load_pipeline(path, config=tiny_model_folder("flux", "random"), device="cpu")
    assert "\n" not in str(raised.value) and "BFL" in str(raised.value)
