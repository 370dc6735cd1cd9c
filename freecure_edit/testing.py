"""Tiny random-weight pipelines for tests and benchmarks, built offline in a fraction of a second.

No weights can be downloaded where this project is tested, so the test suite and the benchmarks build
these, save them with `save_pretrained`, and load them back through `freecure_edit.models.loading`. They have
the layout of the real models (same block types, same conditioning), only narrower and shallower.

`unet_variant` picks the noise predictor's behaviour:
- "random": as initialised; DDIM inversion does not reconstruct on it (float error explodes);
- "smooth": conv_out shrunk to std 2e-4, so eps is small and smooth, the way inversion behaves with
  trained weights; comparisons of two computations of the same thing belong here;
- "zero": conv_out zeroed, so eps is identically zero.
"""

from __future__ import annotations

import torch

BYTE_VOCAB_SIZE = 2 + 2 * 256


def _byte_characters() -> list[str]:
    # The GPT-2 byte-to-unicode table: printable bytes map to themselves, the rest to code points >= 256.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    extra = 0
    chars = {}
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def tiny_clip_tokenizer():
    """A CLIP tokenizer over single bytes: it encodes any text with no vocabulary files."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _byte_characters():
        vocab[ch] = len(vocab)
    for ch in _byte_characters():
        vocab[ch + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _clip_text_config(hidden_size: int, projection_dim: int | None = None):
    from transformers import CLIPTextConfig

    kwargs = dict(
        vocab_size=BYTE_VOCAB_SIZE,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    if projection_dim is not None:
        kwargs["projection_dim"] = projection_dim
    return CLIPTextConfig(**kwargs)


def _tiny_vae(**overrides):
    """SD's tiny autoencoder; FLUX's differs only in `overrides` (16 channels, no quant convs, shift)."""
    from diffusers import AutoencoderKL

    settings = dict(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
    )
    return AutoencoderKL(**{**settings, **overrides})


def _ddim_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _apply_variant(unet, unet_variant: str):
    if unet_variant == "random":
        return unet
    with torch.no_grad():
        if unet_variant == "zero":
            unet.conv_out.weight.zero_()
            unet.conv_out.bias.zero_()
        elif unet_variant == "smooth":
            unet.conv_out.weight.normal_(0.0, 2e-4)
            unet.conv_out.bias.zero_()
        else:
            raise ValueError(f"unknown unet_variant {unet_variant!r}; use random, smooth or zero")
    return unet


# The UNet layout both tiny pipelines share: two levels, one cross-attention level on each path.
_TINY_UNET = dict(
    block_out_channels=(32, 64),
    layers_per_block=1,
    sample_size=32,
    in_channels=4,
    out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=32,
)


def tiny_sd_pipeline(unet_variant: str = "random", seed: int = 0):
    """A StableDiffusionPipeline with SD 1.5's layout and random weights (~3 MB)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**_TINY_UNET, cross_attention_dim=32, attention_head_dim=8)
    pipe = StableDiffusionPipeline(
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_text_config(32)),
        tokenizer=tiny_clip_tokenizer(),
        unet=_apply_variant(unet, unet_variant),
        scheduler=_ddim_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_sdxl_pipeline(unet_variant: str = "random", seed: int = 0):
    """A StableDiffusionXLPipeline with SDXL's layout (two text encoders, micro-conditioning)."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        **_TINY_UNET,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
    )
    pipe = StableDiffusionXLPipeline(
        vae=_tiny_vae(),
        text_encoder=CLIPTextModel(_clip_text_config(32)),
        text_encoder_2=CLIPTextModelWithProjection(_clip_text_config(32, projection_dim=32)),
        tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(),
        unet=_apply_variant(unet, unet_variant),
        scheduler=_ddim_scheduler(),
        force_zeros_for_empty_prompt=True,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(kind: str, folder, unet_variant: str = "random", seed: int = 0):
    """Build a tiny pipeline of `kind` ("sd", "sdxl", "flux" or "flux-schnell") and save it as a diffusers folder."""
    from freecure_edit.testing_flux import tiny_flux_pipeline

    builders = {
        "sd": tiny_sd_pipeline,
        "sdxl": tiny_sdxl_pipeline,
        "flux": lambda unet_variant, seed: tiny_flux_pipeline("dev", unet_variant, seed),
        "flux-schnell": lambda unet_variant, seed: tiny_flux_pipeline("schnell", unet_variant, seed),
    }
    if kind not in builders:
        raise ValueError(f"unknown tiny pipeline kind {kind!r}; use one of {sorted(builders)}")
    pipe = builders[kind](unet_variant=unet_variant, seed=seed)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder
