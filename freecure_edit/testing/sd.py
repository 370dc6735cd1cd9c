"""Tiny random-weight SD 1.5 and SDXL pipelines (the package docstring says why they exist).

`unet_variant` picks the noise predictor's behaviour:
- "random": as initialised; DDIM inversion does not reconstruct on it (float error explodes);
- "smooth": conv_out shrunk to std 2e-4, so eps is small and smooth, the way inversion behaves with
  trained weights; comparisons of two computations of the same thing belong here;
- "zero": conv_out zeroed, so eps is identically zero.
"""

from __future__ import annotations

import torch

from freecure_edit.testing.common import clip_text_config, tiny_clip_tokenizer, tiny_vae


def ddim_scheduler():
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
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(clip_text_config(32)),
        tokenizer=tiny_clip_tokenizer(),
        unet=_apply_variant(unet, unet_variant),
        scheduler=ddim_scheduler(),
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
        vae=tiny_vae(),
        text_encoder=CLIPTextModel(clip_text_config(32)),
        text_encoder_2=CLIPTextModelWithProjection(clip_text_config(32, projection_dim=32)),
        tokenizer=tiny_clip_tokenizer(),
        tokenizer_2=tiny_clip_tokenizer(),
        unet=_apply_variant(unet, unet_variant),
        scheduler=ddim_scheduler(),
        force_zeros_for_empty_prompt=True,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
