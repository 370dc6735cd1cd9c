"""Tiny face parsers and SAM models saved to disk, and synthetic images, for the mask tests.

Each model is built with its library's own classes and saved the way its real checkpoint is, so the
tests go through the real loading path. A "hot" model predicts one class everywhere, which makes the
label mapping checkable with random weights.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from freecure_edit.masks.base import CANONICAL_LABELS
from freecure_edit.masks.bisenet_net import BiSeNet

TINY_INPUT = 64


def gradient_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """A smooth colour ramp: deterministic, non-constant input of any size."""
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.stack([xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), (xs + ys) % 256], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8)).convert(mode)


def one_hot_parse(label_map: torch.Tensor, labels: tuple[str, ...] = CANONICAL_LABELS) -> dict[str, torch.Tensor]:
    """A parse in which each pixel is certain of the class index in `label_map`."""
    return {name: (label_map == index).float() for index, name in enumerate(labels)}


def save_tiny_segformer(folder: Path, labels: tuple[str, ...] = CANONICAL_LABELS, hot_label: str | None = None) -> Path:
    """A 2-stage SegFormer with `labels` as id2label, and a preprocessor config of TINY_INPUT px."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    torch.manual_seed(0)
    config = SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
        decoder_hidden_size=16, num_labels=len(labels),
        id2label={i: name for i, name in enumerate(labels)}, label2id={name: i for i, name in enumerate(labels)},
    )
    model = SegformerForSemanticSegmentation(config)
    if hot_label is not None:
        with torch.no_grad():
            model.decode_head.classifier.weight.zero_()
            model.decode_head.classifier.bias.zero_()
            model.decode_head.classifier.bias[labels.index(hot_label)] = 12.0
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "SegformerImageProcessor", "size": {"height": TINY_INPUT, "width": TINY_INPUT},
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_normalize": True,
    }))
    return folder


def tiny_bisenet_state(num_classes: int = 19, hot_class: int | None = None) -> dict[str, torch.Tensor]:
    """State dict of an 8-channel-wide BiSeNet; with `hot_class`, it predicts that class index everywhere."""
    torch.manual_seed(0)
    network = BiSeNet(num_classes=num_classes, width=8).eval()
    if hot_class is not None:
        head = network.conv_out
        with torch.no_grad():
            head.conv.bn.weight.zero_()
            head.conv.bn.bias.fill_(1.0)  # constant features after the ReLU
            head.conv_out.weight.zero_()
            head.conv_out.weight[hot_class] = 1.0
    return network.state_dict()


def save_tiny_bisenet(path: Path, num_classes: int = 19, hot_class: int | None = None) -> Path:
    state = tiny_bisenet_state(num_classes, hot_class)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def build_tiny_sam(mask_logit: float | None = None):
    """A small SAM from segment-anything's own modules (64-px input, 8x8 grid, 2 encoder blocks).

    With `mask_logit`, the decoder answers that logit at every pixel whatever the prompt: positive
    means "all of the image", negative "nothing".
    """
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    torch.manual_seed(0)
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=TINY_INPUT, patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, out_chans=32,
            qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            window_size=4, global_attn_indexes=(1,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=32, image_embedding_size=(8, 8), input_image_size=(TINY_INPUT, TINY_INPUT), mask_in_chans=8
        ),
        mask_decoder=MaskDecoder(
            transformer_dim=32,
            transformer=TwoWayTransformer(depth=2, embedding_dim=32, num_heads=8, mlp_dim=64),
            num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=32,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    ).eval()
    if mask_logit is not None:
        decoder = sam.mask_decoder
        with torch.no_grad():
            last_upscale = decoder.output_upscaling[3]
            last_upscale.weight.zero_()
            last_upscale.bias.fill_(1.0)  # every upscaled feature is GELU(1) > 0
            for mlp in decoder.output_hypernetworks_mlps:
                mlp.layers[-1].weight.zero_()
                mlp.layers[-1].bias.fill_(mask_logit)
    return sam


def save_tiny_sam(path: Path, mask_logit: float | None = None) -> Path:
    state = build_tiny_sam(mask_logit).state_dict()
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path
