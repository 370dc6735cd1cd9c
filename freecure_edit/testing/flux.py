"""A tiny random-weight FluxPipeline with FLUX.1's layout, built offline in a fraction of a second.

Same parts as FLUX.1 (a FluxTransformer2DModel with double- and single-stream blocks, RoPE over three
axes and, for "dev", a guidance embedding; CLIP for the pooled embedding; T5 for the sequence; a
16-channel autoencoder with a shift factor; the flow-matching Euler scheduler with dynamic shifting),
only narrow and shallow. `transformer_variant` is as `unet_variant` in sd.py: "random", "smooth"
(the output projection shrunk to std 2e-4) or "zero" (velocity identically zero).
"""

from __future__ import annotations

import torch

from freecure_edit.testing.common import (
    BYTE_VOCAB_SIZE,
    byte_characters,
    clip_text_config,
    tiny_clip_tokenizer,
    tiny_vae,
)

TINY_MAX_SEQUENCE_LENGTH = 32


def tiny_t5_tokenizer():
    """A T5 (unigram) tokenizer over single characters, with no vocabulary files."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)]
    pieces += [(ch, -2.0) for ch in byte_characters() if ch != "\u2581"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=TINY_MAX_SEQUENCE_LENGTH)


def tiny_flux_transformer(variant: str = "dev", transformer_variant: str = "random", *,
                          num_layers: int = 1, num_single_layers: int = 1):
    from diffusers import FluxTransformer2DModel

    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16 * 4,  # 16 latent channels, packed 2x2
        num_layers=num_layers,
        num_single_layers=num_single_layers,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=variant == "dev",
        axes_dims_rope=(4, 4, 8),
    )
    with torch.no_grad():
        if transformer_variant == "zero":
            transformer.proj_out.weight.zero_()
            transformer.proj_out.bias.zero_()
        elif transformer_variant == "smooth":
            transformer.proj_out.weight.normal_(0.0, 2e-4)
            transformer.proj_out.bias.zero_()
        elif transformer_variant != "random":
            raise ValueError(f"unknown transformer_variant {transformer_variant!r}; use random, smooth or zero")
    return transformer


def _tiny_flux_vae():
    return tiny_vae(latent_channels=16, use_quant_conv=False, use_post_quant_conv=False,
                     shift_factor=0.0609, scaling_factor=1.5035)


def flow_scheduler(variant: str):
    from diffusers import FlowMatchEulerDiscreteScheduler

    if variant == "schnell":
        return FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    return FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096,
    )


def tiny_flux_pipeline(variant: str = "dev", transformer_variant: str = "random", seed: int = 0):
    """A FluxPipeline like FLUX.1-dev ("dev": guidance embedding, dynamic shift) or -schnell."""
    from diffusers import FluxPipeline
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    if variant not in ("dev", "schnell"):
        raise ValueError(f"unknown FLUX variant {variant!r}; use dev or schnell")
    torch.manual_seed(seed)
    t5 = T5EncoderModel(T5Config(
        vocab_size=BYTE_VOCAB_SIZE + 8, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    ))
    pipe = FluxPipeline(
        scheduler=flow_scheduler(variant),
        vae=_tiny_flux_vae(),
        text_encoder=CLIPTextModel(clip_text_config(32)),
        tokenizer=tiny_clip_tokenizer(),
        text_encoder_2=t5,
        tokenizer_2=tiny_t5_tokenizer(),
        transformer=tiny_flux_transformer(variant, transformer_variant),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe
