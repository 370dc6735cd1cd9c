"""Build segment-anything's Sam to fit a state dict, and load it without a bare `torch.load`.

segment-anything's own `build_sam*` unpickles the checkpoint with a plain `torch.load`. Here the file
is read with `weights_only=True` (or as .safetensors) and the network is sized from the tensors'
shapes, so vit_b, vit_l and vit_h checkpoints all load with no variant to name, and so does a small
test model. The one size the shapes do not show, the mask decoder's head count, is 8 in every
released SAM.
"""

from __future__ import annotations

import os
import re
from functools import partial

import torch

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks.checkpoints import checkpoint_path, fit_state_dict, read_state_dict

HOW_TO_GET = (
    "download a segment-anything checkpoint (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or "
    "sam_vit_h_4b8939.pth) and pass its path as the SAM model"
)
VARIANTS_BY_WIDTH = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
_PIXEL_MEAN = (123.675, 116.28, 103.53)
_PIXEL_STD = (58.395, 57.12, 57.375)


def _count(state: dict[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(m.group(1)) for key in state if (m := pattern.match(key))}
    return max(indices) + 1 if indices else 0


def _shape(state: dict[str, torch.Tensor], key: str, source: str) -> torch.Size:
    if key not in state:
        raise ConfigurationError(f"{source} is not a segment-anything checkpoint (no {key})")
    return state[key].shape


def sam_geometry(state: dict[str, torch.Tensor], source: str) -> dict:
    """The builder parameters that `state` was saved from, read off its tensor shapes."""
    embed_dim, _, patch, _ = _shape(state, "image_encoder.patch_embed.proj.weight", source)
    grid = _shape(state, "image_encoder.pos_embed", source)[1]
    depth = _count(state, "image_encoder.blocks.")
    rel_pos = "image_encoder.blocks.0.attn.rel_pos_h"
    if depth == 0 or rel_pos not in state:
        raise ConfigurationError(f"{source} is not a segment-anything checkpoint (no relative-position encoder blocks)")
    head_dim = state[rel_pos].shape[1]
    # Global-attention blocks span the whole grid; the others a window, whose side the table shows.
    spans = [(state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0] + 1) // 2 for i in range(depth)]
    global_blocks = [i for i, span in enumerate(spans) if span == grid]
    windows = {span for span in spans if span != grid}
    prompt_dim = _shape(state, "mask_decoder.mask_tokens.weight", source)[1]
    decoder_dim = _shape(state, "mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight", source)
    return {
        "embed_dim": embed_dim,
        "patch_size": patch,
        "img_size": grid * patch,
        "depth": depth,
        "num_heads": embed_dim // head_dim,
        "mlp_ratio": _shape(state, "image_encoder.blocks.0.mlp.lin1.weight", source)[0] / embed_dim,
        "qkv_bias": "image_encoder.blocks.0.attn.qkv.bias" in state,
        "global_attn_indexes": tuple(global_blocks),
        "window_size": windows.pop() if len(windows) == 1 else 0,
        "prompt_embed_dim": prompt_dim,
        "mask_in_chans": _shape(state, "prompt_encoder.mask_downscaling.3.weight", source)[0],
        "multimask_outputs": _shape(state, "mask_decoder.mask_tokens.weight", source)[0] - 1,
        "decoder_depth": _count(state, "mask_decoder.transformer.layers."),
        "decoder_mlp_dim": _shape(state, "mask_decoder.transformer.layers.0.mlp.lin1.weight", source)[0],
        "attention_downsample_rate": prompt_dim // decoder_dim[0],
        "iou_head_depth": _count(state, "mask_decoder.iou_prediction_head.layers."),
        "iou_head_hidden_dim": _shape(state, "mask_decoder.iou_prediction_head.layers.0.weight", source)[0],
    }


def build_sam(geometry: dict, decoder_heads: int = 8):
    """An untrained segment-anything Sam of the given geometry, built from its own modules."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = geometry["img_size"] // geometry["patch_size"]
    prompt_dim = geometry["prompt_embed_dim"]
    encoder = ImageEncoderViT(
        img_size=geometry["img_size"],
        patch_size=geometry["patch_size"],
        embed_dim=geometry["embed_dim"],
        depth=geometry["depth"],
        num_heads=geometry["num_heads"],
        mlp_ratio=geometry["mlp_ratio"],
        out_chans=prompt_dim,
        qkv_bias=geometry["qkv_bias"],
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=geometry["window_size"],
        global_attn_indexes=geometry["global_attn_indexes"],
    )
    prompt_encoder = PromptEncoder(
        embed_dim=prompt_dim,
        image_embedding_size=(grid, grid),
        input_image_size=(geometry["img_size"], geometry["img_size"]),
        mask_in_chans=geometry["mask_in_chans"],
    )
    decoder = MaskDecoder(
        transformer_dim=prompt_dim,
        transformer=TwoWayTransformer(
            depth=geometry["decoder_depth"],
            embedding_dim=prompt_dim,
            num_heads=decoder_heads,
            mlp_dim=geometry["decoder_mlp_dim"],
            attention_downsample_rate=geometry["attention_downsample_rate"],
        ),
        num_multimask_outputs=geometry["multimask_outputs"],
        iou_head_depth=geometry["iou_head_depth"],
        iou_head_hidden_dim=geometry["iou_head_hidden_dim"],
    )
    return Sam(encoder, prompt_encoder, decoder, pixel_mean=list(_PIXEL_MEAN), pixel_std=list(_PIXEL_STD))


def load_sam(path: str | os.PathLike | None, decoder_heads: int = 8):
    """Sam with the weights of a local checkpoint (.pth read with weights_only, or .safetensors)."""
    resolved = checkpoint_path(path, "the sam refiner", HOW_TO_GET)
    state = read_state_dict(resolved)
    geometry = sam_geometry(state, resolved.name)
    try:
        sam = build_sam(geometry, decoder_heads)
    except (AssertionError, ValueError, ZeroDivisionError) as error:
        raise ConfigurationError(f"{resolved.name} has an unsupported segment-anything geometry ({error})") from error
    fit_state_dict(sam, state, resolved, "segment-anything")
    return sam.eval()
