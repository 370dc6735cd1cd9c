"""The toy models' shapes: SD 1.5's block layout, shrunk to train in minutes on two CPU cores.

The image is 64 px and the autoencoder has three levels (scale factor 4), so latents are 16x16 and hair,
eyes and mouth fall on different positions of the up path's 16x16 self-attention, where FASA acts.
The UNet keeps SD's order of blocks: cross-attention blocks then a plain block on the way down, a plain
block then cross-attention blocks (self-attention included) on the way up. Its first down level has no
attention, which halves the training cost; FASA acts only in the up path anyway.
"""

from __future__ import annotations

IMAGE_SIZE = 64
TEXT_WIDTH = 64


def vae_config(width: tuple[int, ...] | None = None) -> dict:
    """`width`: block_out_channels, three of them (the scale factor, 4, comes from their count)."""
    return dict(
        block_out_channels=tuple(width) if width else (16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=IMAGE_SIZE,
        # Fully convolutional, so it can be trained on crops.
        mid_block_add_attention=False,
    )


def unet_config() -> dict:
    return dict(
        sample_size=IMAGE_SIZE // 4,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=2,
        norm_num_groups=16,
    )


def text_config():
    from transformers import CLIPTextConfig

    from freecure_edit.testing import BYTE_VOCAB_SIZE

    return CLIPTextConfig(
        vocab_size=BYTE_VOCAB_SIZE,
        hidden_size=TEXT_WIDTH,
        intermediate_size=2 * TEXT_WIDTH,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


def scheduler_config() -> dict:
    # Stable Diffusion 1.5's noise schedule, as a DDIM scheduler.
    return dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                set_alpha_to_one=False, steps_offset=1, num_train_timesteps=1000)


# 192 rather than 128: SegFormer's logits are a quarter of its input, and 48x48 logits resolve the
# one-pixel rims of round glasses on a 64 px drawing that 32x32 logits blurred (glasses IoU 0.785 at 128).
PARSER_INPUT = 192


def segformer_config(label_names):
    from transformers import SegformerConfig

    return SegformerConfig(
        num_channels=3,
        num_encoder_blocks=4,
        depths=[1, 1, 1, 1],
        sr_ratios=[4, 2, 1, 1],
        hidden_sizes=[16, 32, 48, 64],
        num_attention_heads=[1, 1, 2, 2],
        decoder_hidden_size=64,
        num_labels=len(label_names),
        id2label={i: name for i, name in enumerate(label_names)},
        label2id={name: i for i, name in enumerate(label_names)},
    )
