"""Write a diffusers FluxTransformer2DModel in Black Forest Labs' original layout, as `flux1-dev.safetensors`
ships, so the tests can load such a file through the project's loader without real weights.

Written out by hand, key by key, from BFL's reference model (`flux/model.py`: `img_in`, `time_in`,
`vector_in`, `guidance_in`, `txt_in`, `double_blocks`, `single_blocks`, `final_layer`), not from the
loader's tables, so that the round trip checks the loader rather than repeating it.
"""

from __future__ import annotations

from pathlib import Path

import torch


def bfl_state_dict(transformer, prefix: str = "") -> dict[str, torch.Tensor]:
    """The transformer's tensors under BFL's names (with `prefix`, e.g. "model.diffusion_model.")."""
    d = {key: value.detach().clone() for key, value in transformer.state_dict().items()}
    out: dict[str, torch.Tensor] = {}

    def put(name: str, tensor: torch.Tensor) -> None:
        out[prefix + name] = tensor.contiguous()

    for kind in ("weight", "bias"):
        put(f"img_in.{kind}", d.pop(f"x_embedder.{kind}"))
        put(f"txt_in.{kind}", d.pop(f"context_embedder.{kind}"))
        for bfl, ours in (("time_in", "timestep_embedder"), ("vector_in", "text_embedder"),
                          ("guidance_in", "guidance_embedder")):
            for layer, linear in (("in_layer", "linear_1"), ("out_layer", "linear_2")):
                key = f"time_text_embed.{ours}.{linear}.{kind}"
                if key in d:
                    put(f"{bfl}.{layer}.{kind}", d.pop(key))
        put(f"final_layer.linear.{kind}", d.pop(f"proj_out.{kind}"))
        scale, shift = d.pop(f"norm_out.linear.{kind}").chunk(2, dim=0)
        put(f"final_layer.adaLN_modulation.1.{kind}", torch.cat([shift, scale]))

    for i in range(len(transformer.transformer_blocks)):
        b, o = f"transformer_blocks.{i}.", f"double_blocks.{i}."
        for kind in ("weight", "bias"):
            put(f"{o}img_mod.lin.{kind}", d.pop(f"{b}norm1.linear.{kind}"))
            put(f"{o}txt_mod.lin.{kind}", d.pop(f"{b}norm1_context.linear.{kind}"))
            put(f"{o}img_attn.qkv.{kind}", torch.cat([d.pop(f"{b}attn.to_{x}.{kind}") for x in "qkv"]))
            put(f"{o}txt_attn.qkv.{kind}", torch.cat([d.pop(f"{b}attn.add_{x}_proj.{kind}") for x in "qkv"]))
            put(f"{o}img_attn.proj.{kind}", d.pop(f"{b}attn.to_out.0.{kind}"))
            put(f"{o}txt_attn.proj.{kind}", d.pop(f"{b}attn.to_add_out.{kind}"))
            put(f"{o}img_mlp.0.{kind}", d.pop(f"{b}ff.net.0.proj.{kind}"))
            put(f"{o}img_mlp.2.{kind}", d.pop(f"{b}ff.net.2.{kind}"))
            put(f"{o}txt_mlp.0.{kind}", d.pop(f"{b}ff_context.net.0.proj.{kind}"))
            put(f"{o}txt_mlp.2.{kind}", d.pop(f"{b}ff_context.net.2.{kind}"))
        put(f"{o}img_attn.norm.query_norm.scale", d.pop(f"{b}attn.norm_q.weight"))
        put(f"{o}img_attn.norm.key_norm.scale", d.pop(f"{b}attn.norm_k.weight"))
        put(f"{o}txt_attn.norm.query_norm.scale", d.pop(f"{b}attn.norm_added_q.weight"))
        put(f"{o}txt_attn.norm.key_norm.scale", d.pop(f"{b}attn.norm_added_k.weight"))

    for i in range(len(transformer.single_transformer_blocks)):
        b, o = f"single_transformer_blocks.{i}.", f"single_blocks.{i}."
        for kind in ("weight", "bias"):
            put(f"{o}modulation.lin.{kind}", d.pop(f"{b}norm.linear.{kind}"))
            fused = [d.pop(f"{b}attn.to_{x}.{kind}") for x in "qkv"] + [d.pop(f"{b}proj_mlp.{kind}")]
            put(f"{o}linear1.{kind}", torch.cat(fused))
            put(f"{o}linear2.{kind}", d.pop(f"{b}proj_out.{kind}"))
        put(f"{o}norm.query_norm.scale", d.pop(f"{b}attn.norm_q.weight"))
        put(f"{o}norm.key_norm.scale", d.pop(f"{b}attn.norm_k.weight"))

    if d:
        raise ValueError(f"tensors with no BFL name: {', '.join(sorted(d)[:3])}")
    return out


def save_bfl_flux_transformer(transformer, path: str | Path, prefix: str = "") -> Path:
    from safetensors.torch import save_file

    save_file(bfl_state_dict(transformer, prefix), str(path))
    return Path(path)
