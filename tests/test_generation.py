"""Generation mode (FreeCure inside IP-Adapter FaceID) on tiny random weights: properties that hold for
any weights. The adapter is written in the layout diffusers reads and loaded through `load_ip_adapter`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import FreeCure
from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError, InputImageError, ModelNotFoundError
from freecure_edit.generation.estimate import generation_evaluations
from freecure_edit.generation.faceid_layout import faceid_state_dict, save_faceid
from freecure_edit.prompts import parse_prompt
from freecure_edit.testing.sd import tiny_sd_pipeline, tiny_sdxl_pipeline

ID_DIM = 16
SIZE = 64
PROMPT = "a photo of a woman with red hair"


def adapter_file(pipe, folder, seed=1, name="ip-adapter-faceid_tiny.safetensors"):
    # Random LoRA up matrices: a LoRA at its training initialisation (zero) would change nothing to see.
    return save_faceid(faceid_state_dict(pipe.unet, ID_DIM, zero_lora_up=False, seed=seed), folder / name)


def loaded(tmp_path, parser=None, kind="sd", variant="random"):
    # The random UNet, not the smooth one: generation inverts nothing, and the smooth UNet's small noise
    # would hide what FASA or the identity change.
    pipe = (tiny_sd_pipeline if kind == "sd" else tiny_sdxl_pipeline)(variant)
    fc = FreeCure(pipe, parser=parser or FixedRegionParser(HAIR_ON_TOP))
    fc.load_adapter(str(adapter_file(pipe, tmp_path)))
    return fc


def config(**changes):
    return CureConfig(**{"steps": 4, "guidance": 5.0, "working_size": SIZE, "mask_source": "fd", **changes})


def identity(seed=0):
    return np.random.default_rng(seed).normal(size=ID_DIM)


def pixels(image):
    return np.asarray(image).astype(np.int16)


def latent_for(fc, seed=3):
    return torch.randn((1, 4, SIZE // fc.backbone.vae_scale_factor, SIZE // fc.backbone.vae_scale_factor),
                       generator=torch.Generator().manual_seed(seed))


def diffusers_call(fc, prompt, embedding, latent, negative_prompt=None):
    """diffusers' own IP-Adapter FaceID call: zeros as the negative half of the embeddings."""
    e = torch.as_tensor(embedding, dtype=torch.float32).reshape(1, 1, 1, -1)
    out = fc.pipe(prompt, negative_prompt=negative_prompt, num_inference_steps=4, guidance_scale=5.0,
                  latents=latent.clone(), height=SIZE, width=SIZE,
                  ip_adapter_image_embeds=[torch.cat([torch.zeros_like(e), e])], output_type="np").images[0]
    return (out * 255).round().astype(np.int16)


def test_the_personalized_branch_is_diffusers_own_faceid_call(tmp_path):
    fc = loaded(tmp_path)
    latent = latent_for(fc)
    result = fc.generate(None, PROMPT, config(), identity=identity(), latents=latent)
    assert np.abs(pixels(result.pd_image) - diffusers_call(fc, PROMPT, identity(), latent)).max() <= 1


@pytest.mark.parametrize("pd_guidance", [None, 2.0])
def test_the_foundation_branch_is_the_model_with_a_zero_embedding(tmp_path, pd_guidance):
    fc = loaded(tmp_path)
    latent = latent_for(fc)
    result = fc.generate(None, PROMPT, config(pd_guidance=pd_guidance), identity=identity(), latents=latent)
    zero = np.zeros(ID_DIM)
    assert np.abs(pixels(result.fd_image) - diffusers_call(fc, PROMPT, zero, latent)).max() <= 1


def test_the_identity_changes_the_personalized_branch_and_not_the_foundation(tmp_path):
    fc = loaded(tmp_path)
    first = fc.generate(None, PROMPT, config(), identity=identity(0), seed=5)
    second = fc.generate(None, PROMPT, config(), identity=identity(1), seed=5)
    assert np.abs(pixels(first.pd_image) - pixels(second.pd_image)).mean() > 0.5
    assert np.array_equal(pixels(first.fd_image), pixels(second.fd_image))


def test_without_fasa_the_cure_is_the_personalized_image(tmp_path):
    fc = loaded(tmp_path)
    for quiet in (config(strength=0.0), config(fasa_steps=(0.0, 0.0))):
        result = fc.generate(None, PROMPT, quiet, identity=identity(), seed=2)
        assert np.abs(pixels(result.image) - pixels(result.pd_image)).max() <= 1


def test_an_empty_mask_gives_the_personalized_image(tmp_path):
    fc = loaded(tmp_path, parser=FixedRegionParser({}))
    result = fc.generate(None, PROMPT, config(), identity=identity(), seed=2)
    assert float(result.masks["union"].max()) == 0.0
    assert np.abs(pixels(result.image) - pixels(result.pd_image)).max() <= 1


def test_fasa_changes_the_personalized_image_inside_the_mask(tmp_path):
    fc = loaded(tmp_path)
    result = fc.generate(None, PROMPT, config(omega=3.0), identity=identity(), seed=2)
    assert float(result.masks["union"].max()) == 1.0
    change = np.abs(pixels(result.image) - pixels(result.pd_image)).mean(axis=(1, 2))
    hair_rows = round(HAIR_ON_TOP["hair"][3] * SIZE)
    assert change[:hair_rows].mean() > 1.0


def test_fasa_leaves_the_adapters_cross_attention_in_place(tmp_path):
    fc = loaded(tmp_path)
    seen = []

    class Watch:
        on_step = staticmethod(lambda info: seen.append(
            {name: type(p).__name__ for name, p in fc.pipe.unet.attn_processors.items()}))
        on_masks = on_result = None

    fc.generate(None, PROMPT, config(), identity=identity(), seed=2, callbacks=Watch())
    assert seen
    for processors in seen:
        cross = {kind for name, kind in processors.items() if name.endswith("attn2.processor")}
        own = {kind for name, kind in processors.items() if name.endswith("attn1.processor")}
        assert cross == {"IPAdapterAttnProcessor2_0"} and own == {"ControlledAttnProcessor"}
    after = {type(p).__name__ for name, p in fc.pipe.unet.attn_processors.items() if name.endswith("attn1.processor")}
    assert after == {"AttnProcessor2_0"}


@pytest.mark.parametrize("prompt,changes", [(PROMPT, {}), ("a photo of a woman, smiling", {}),
                                            (PROMPT, {"pd_guidance": 1.0})])
def test_evaluations_are_counted_and_estimated(tmp_path, prompt, changes):
    fc = loaded(tmp_path)
    asked = config(**changes)
    result = fc.generate(None, prompt, asked, identity=identity(), seed=2)
    expected = generation_evaluations(fc.resolve_config(asked), parse_prompt(prompt))
    counted = {phase: n for phase, n in result.stats.evaluations.items() if n}
    assert counted == expected.evaluations
    assert ("apg" in counted) == ("smiling" in prompt)


def test_a_seed_gives_the_same_image_and_another_seed_another(tmp_path):
    fc = loaded(tmp_path)
    a = fc.generate(None, PROMPT, config(), identity=identity(), seed=7)
    b = fc.generate(None, PROMPT, config(), identity=identity(), seed=7)
    c = fc.generate(None, PROMPT, config(), identity=identity(), seed=8)
    assert np.array_equal(pixels(a.image), pixels(b.image))
    assert not np.array_equal(pixels(a.pd_image), pixels(c.pd_image))


def test_a_generation_left_to_the_model_runs_both_branches_at_its_one_guidance(tmp_path):
    # SD 1.x cures photos with the foundation branch at 4 (its inverted noise over-saturates at 7.5); a
    # generation starts both branches from fresh noise, the paper's setting, so both run at 7.5.
    fc = loaded(tmp_path)
    result = fc.generate(None, PROMPT, config(guidance=None), identity=identity(), seed=2)
    assert (result.config.guidance, result.config.photo_guidance) == (7.5, 7.5)


def test_generation_runs_on_sdxl(tmp_path):
    fc = loaded(tmp_path, kind="sdxl")
    result = fc.generate(None, PROMPT, config(), identity=identity(), seed=2)
    assert result.image.size == (SIZE, SIZE)
    assert np.abs(pixels(result.image) - pixels(result.pd_image)).mean() > 0.0


def test_photos_are_refused_while_an_adapter_is_loaded_and_cured_after_unloading(tmp_path):
    fc = loaded(tmp_path)
    photo = random_photo(64, 48)
    with pytest.raises(ConfigurationError, match="unload_adapter"):
        fc.cure(photo, PROMPT, CureConfig(steps=2, detect=False))
    fc.unload_adapter()
    assert {type(p).__name__ for p in fc.pipe.unet.attn_processors.values()} == {"AttnProcessor2_0"}
    assert fc.cure(photo, PROMPT, CureConfig(steps=2, detect=False)).image.size == photo.size


def test_adapter_sources(tmp_path):
    pipe = tiny_sd_pipeline("smooth")
    fc = FreeCure(pipe, parser=FixedRegionParser(HAIR_ON_TOP))
    folder = tmp_path / "adapter"
    folder.mkdir()
    adapter_file(pipe, folder)
    assert fc.load_adapter(str(folder)).kind == "faceid"  # a folder with one adapter file
    adapter_file(pipe, folder, name="other.safetensors")
    with pytest.raises(ConfigurationError, match="adapter-weight-name"):
        fc.load_adapter(str(folder))
    assert fc.load_adapter(str(folder), weight_name="other.safetensors").id_dim == ID_DIM
    with pytest.raises(ModelNotFoundError):
        fc.load_adapter(str(tmp_path / "missing"))
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        fc.load_adapter("nobody/no-such-adapter")  # not in the (empty, offline) Hugging Face cache


def test_an_ip_adapter_without_a_face_embedding_is_refused(tmp_path):
    from safetensors.torch import save_file

    pipe = tiny_sd_pipeline("smooth")
    state = {k: v for k, v in faceid_state_dict(pipe.unet, ID_DIM).items() if "lora" not in k and "image_proj" not in k}
    # A plain (image) IP-Adapter: one linear projection of a CLIP image embedding into 4 tokens.
    state["image_proj.proj.weight"] = torch.zeros(4 * 32, 24)
    state["image_proj.proj.bias"] = torch.zeros(4 * 32)
    state["image_proj.norm.weight"] = torch.ones(32)
    state["image_proj.norm.bias"] = torch.zeros(32)
    save_file(state, str(tmp_path / "ip-adapter.safetensors"))
    fc = FreeCure(pipe, parser=FixedRegionParser(HAIR_ON_TOP))
    with pytest.raises(ConfigurationError, match="not IP-Adapter FaceID"):
        fc.load_adapter(str(tmp_path / "ip-adapter.safetensors"))
    assert fc.adapter is None


def test_an_identity_of_the_wrong_length_is_refused(tmp_path):
    fc = loaded(tmp_path)
    with pytest.raises(ConfigurationError, match="16"):
        fc.generate(None, PROMPT, config(), identity=np.ones(ID_DIM + 1))


def test_a_reference_without_a_face_is_refused(tmp_path):
    fc = loaded(tmp_path)
    photo = random_photo(64, 48)

    class NoFaces:
        has_recognition = True
        pack = "none"

        def detect(self, image):
            return []

    fc.face_analyzer = NoFaces()
    with pytest.raises(InputImageError, match="no face"):
        fc.generate(photo, PROMPT, config())


def test_a_cancelled_generation_stops_and_restores_the_processors(tmp_path):
    from freecure_edit.errors import CureCancelled

    fc = loaded(tmp_path)
    before = {name: type(p).__name__ for name, p in fc.pipe.unet.attn_processors.items()}
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CureCancelled):
        fc.generate(None, PROMPT, config(), identity=identity(), seed=2, cancel=cancel)
    assert {name: type(p).__name__ for name, p in fc.pipe.unet.attn_processors.items()} == before
    assert len(calls) == 4  # looked at after every step, stopped at the first True


def test_masks_from_the_callback_replace_the_parsers(tmp_path):
    fc = loaded(tmp_path)
    offered = []

    class Empty:
        on_step = on_result = None

        @staticmethod
        def on_masks(context):
            offered.append(sorted(context.masks))
            return {"union": torch.zeros_like(context.masks["union"])}

    result = fc.generate(None, PROMPT, config(omega=3.0), identity=identity(), seed=2, callbacks=Empty())
    assert offered == [["hair", "union"]]
    assert float(result.masks["union"].max()) == 0.0
    assert np.abs(pixels(result.image) - pixels(result.pd_image)).max() <= 1
