"""Attention control for FreeCure: FASA and cross-attention map capture, routed by one controller.

May import errors.py only: the pipeline hands it tensors and layer names.
"""

from freecure_edit.attention.controller import AttentionController, uniform_attention
from freecure_edit.attention.layers import default_fasa_layers, default_omega, up_path_self_attention_layers

__all__ = [
    "AttentionController",
    "default_fasa_layers",
    "default_omega",
    "uniform_attention",
    "up_path_self_attention_layers",
]
