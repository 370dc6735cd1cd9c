"""FASA in FLUX's joint attention, and attention maps of prompt tokens, behind the controller's interface.

The same three policies as `AttentionController` (passthrough, record, inject) and the same methods, so
the cure's pipeline drives either. What differs is where FASA acts, as the paper's final version puts
it for FLUX: in the chosen blocks, only PD's *image queries* see FD's *image keys*, with the bias
omega + log(m) on those keys; PD's text queries, its own keys, and every other row are plain attention.

FD's image keys are cached after RMS norm and RoPE. PD's queries carry the same image positions (same
latent size, same position ids), so the cached keys are rotated exactly as PD's own would be.

Memory (issue 16, item 5): a FD cache entry is one block's image keys and values at one step, about
50 MB at 1024 px in bf16 (4096 tokens x 3072 channels x 2 tensors x 2 bytes). Only the FASA blocks at
the FASA steps are recorded, and on a GPU the cure keeps the cache on the CPU (`cache_device`), moving
one entry to the GPU as its block runs; see the README's FLUX section for the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from freecure_edit.attention.cross_maps import CrossAttentionMapRecorder, head_mean_probabilities
from freecure_edit.attention.fasa import fasa_attention, fd_key_bias
from freecure_edit.attention.fd_cache import FdKeyValueCache
from freecure_edit.attention.flux_processor import (
    FluxControlledProcessor,
    JointAttentionCall,
    plain_joint_attention,
)
from freecure_edit.attention.grids import resize_mask_to_grid
from freecure_edit.errors import ConfigurationError

_PLAIN_PROCESSORS = {"FluxAttnProcessor", "FluxAttnProcessor2_0", "FluxControlledProcessor"}
# PD's image queries go through FASA in chunks: with a float bias, scaled_dot_product_attention may
# take its math path, which holds a (heads, queries, keys) matrix, 1.7 GB in bf16 at 1024 px for all
# 4096 queries over 4096 + 512 + 4096 keys; 1024 queries at a time hold a quarter of it.
QUERY_CHUNK = 1024


@dataclass
class _Recording:
    fd_row: int
    cache_keys_values: bool
    maps: CrossAttentionMapRecorder | None


@dataclass
class _Injecting:
    pd_rows: list[int]
    mask: torch.Tensor
    omega: float
    steps: set[int] | None
    mix: float = 1.0
    bias: torch.Tensor | None = None
    bias_ready: bool = False


class FluxAttentionController:
    """Routes the joint attention of one FluxTransformer2DModel for one cure.

    fasa_layers: processor names (from `default_flux_fasa_layers`); latent_size: (h, w) of the unpacked
    latents; cache_device: where FD's keys and values wait (None: where they were computed).
    """

    def __init__(
        self,
        transformer: torch.nn.Module,
        fasa_layers: Sequence[str],
        latent_size: tuple[int, int],
        cache_device: torch.device | str | None = None,
    ) -> None:
        known = transformer.attn_processors
        if not fasa_layers:
            raise ConfigurationError("the FASA layer selection is empty; FASA needs a joint attention layer")
        for name in fasa_layers:
            if name not in known:
                raise ConfigurationError(f"{name!r} is not an attention processor of this FLUX transformer")
        height, width = int(latent_size[0]), int(latent_size[1])
        if height % 2 or width % 2:
            raise ValueError(f"FLUX packs 2x2 patches, so the latent must have even sides, got {height}x{width}")
        self.step: int | None = None
        self.calls = 0
        self._transformer = transformer
        self._fasa_layers = frozenset(fasa_layers)
        self._latent_size = (height, width)
        self._grid = (height // 2, width // 2)
        self._image_tokens = self._grid[0] * self._grid[1]
        self._record_steps: frozenset[int] | None = None
        self._cache = FdKeyValueCache(cache_device)
        self._maps: CrossAttentionMapRecorder | None = None
        self._policy: _Recording | _Injecting | None = None

    @contextmanager
    def installed(self) -> Iterator["FluxAttentionController"]:
        originals = self._transformer.attn_processors
        for name, processor in originals.items():
            if type(processor).__name__ not in _PLAIN_PROCESSORS:
                raise ConfigurationError(
                    f"attention layer {name} uses {type(processor).__name__}, which FreeCure would replace "
                    "and lose; load the model without it"
                )
        self._transformer.set_attn_processor({name: FluxControlledProcessor(name, self) for name in originals})
        try:
            yield self
        finally:
            self._transformer.set_attn_processor(dict(originals))
            self._policy = None

    def passthrough(self) -> None:
        self._policy = None

    def record(self, fd_cond_row: int, capture_tokens: Mapping[str, Sequence[int]] | None = None,
               cache_keys_values: bool = True, steps: Iterable[int] | None = None) -> None:
        """Start the FD pass; capture_tokens maps attribute names to T5 token indices of FD's prompt;
        `steps` limits the cache to the steps FASA will read (None: every step)."""
        self._cache.clear()
        self._record_steps = None if steps is None else frozenset(int(step) for step in steps)
        self._maps = CrossAttentionMapRecorder(capture_tokens, self._latent_size) if capture_tokens else None
        self._policy = _Recording(int(fd_cond_row), bool(cache_keys_values), self._maps)

    def release_cache(self) -> None:
        """Drop FD's keys and values (the PD pass is over); the attention maps stay readable."""
        self._cache.clear()
        if isinstance(self._policy, _Injecting):
            self._policy = None

    def inject(self, pd_cond_rows: Sequence[int], mask: torch.Tensor, omega: float,
               steps: Iterable[int] | None = None, mix: float = 1.0) -> None:
        rows = _distinct_rows(pd_cond_rows)
        if not math.isfinite(omega):
            raise ValueError(f"omega must be a finite number, got {omega}")
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"mix must be between 0 and 1, got {mix}")
        recorded = self._cache.steps()
        if not recorded:
            raise RuntimeError("FASA needs FD's keys and values: run the FD pass under record() first")
        chosen = None if steps is None else {int(step) for step in steps}
        missing = sorted((chosen or set()) - recorded)
        if missing:
            raise ValueError(f"FASA asked for steps {missing}, which the FD pass did not record")
        self._policy = _Injecting(rows, _checked_mask(mask), float(omega), chosen, float(mix))

    def move_pd_rows(self, pd_cond_rows: Sequence[int]) -> None:
        """Point FASA at other batch rows from the next call on: APG's branch with true CFG evaluates
        [negative, prompt], so the prompt is row 1 there while the photo pass before it has one row."""
        rows = _distinct_rows(pd_cond_rows)
        if isinstance(self._policy, _Injecting):
            self._policy.pd_rows = rows

    def cross_attention_maps(self) -> dict[str, torch.Tensor]:
        return {} if self._maps is None else self._maps.maps()

    @property
    def cache_bytes(self) -> int:
        return self._cache.nbytes

    @property
    def cached_steps(self) -> set[int]:
        return self._cache.steps()

    def fd_key_bias(self) -> torch.Tensor | None:
        """The bias on FD's image keys in packed-token order (None: empty mask), while injecting."""
        if not isinstance(self._policy, _Injecting):
            raise RuntimeError("the FD key bias exists only after inject()")
        bias = fd_key_bias(resize_mask_to_grid(self._policy.mask, self._grid), self._policy.omega)
        return None if bool(torch.isneginf(bias).all()) else bias

    # -- routing ------------------------------------------------------------------------------------

    def attend_joint(self, call: JointAttentionCall) -> torch.Tensor:
        self.calls += 1
        policy = self._policy
        if isinstance(policy, _Recording):
            self._record(call, policy)
        elif isinstance(policy, _Injecting) and call.name in self._fasa_layers:
            return self._fasa(call, policy)
        return plain_joint_attention(call)

    def _text_tokens(self, call: JointAttentionCall) -> int:
        text = call.query.shape[1] - self._image_tokens
        if text < 0:
            raise ValueError(
                f"layer {call.name} sees {call.query.shape[1]} tokens, fewer than the {self._image_tokens} image "
                "tokens of the controller's latent_size"
            )
        return text

    def _record(self, call: JointAttentionCall, policy: _Recording) -> None:
        row = _checked_row(policy.fd_row, call, "fd_cond_row")
        text = self._text_tokens(call)
        step = self._current_step()
        wanted_step = self._record_steps is None or step in self._record_steps
        if policy.cache_keys_values and call.name in self._fasa_layers and wanted_step:
            self._cache.put(call.name, step, call.key[row, text:], call.value[row, text:])
        if policy.maps is not None:
            # Image queries over the text keys only: the share of each image token's text attention.
            query = call.query[row, text:].transpose(0, 1)
            key = call.key[row, :text].transpose(0, 1)
            policy.maps.add(head_mean_probabilities(query, key, call.query.shape[-1] ** -0.5))

    def _fasa(self, call: JointAttentionCall, policy: _Injecting) -> torch.Tensor:
        step = self._current_step()
        if policy.steps is not None and step not in policy.steps:
            return plain_joint_attention(call)
        if call.attention_mask is not None:
            raise ValueError(f"FASA layer {call.name} got an attention mask, which FASA cannot combine")
        bias = self._bias(policy, call.query)
        if bias is None:
            return plain_joint_attention(call)
        cached = self._cache.get(call.name, step, call.query.device)
        if cached is None:
            raise RuntimeError(
                f"FASA needs FD's keys of layer {call.name} at step {step}, which the FD pass did not record"
            )
        for row in policy.pd_rows:
            _checked_row(row, call, "pd_cond_rows")
        text = self._text_tokens(call)
        rows = policy.pd_rows
        # (B, S, H, D) -> (B, H, S, D), the layout of scaled_dot_product_attention.
        query, key, value = (t[rows].transpose(1, 2) for t in (call.query, call.key, call.value))
        fd_key, fd_value = (t[None].transpose(1, 2) for t in cached)
        text_out = F.scaled_dot_product_attention(query[:, :, :text], key, value)
        image_out = torch.cat([
            fasa_attention(chunk, key, value, fd_key, fd_value, bias, mix=policy.mix)
            for chunk in query[:, :, text:].split(QUERY_CHUNK, dim=2)
        ], dim=2)
        out = plain_joint_attention(call).clone() if len(rows) < call.query.shape[0] else torch.empty_like(call.query)
        out[rows] = torch.cat([text_out, image_out], dim=2).transpose(1, 2).to(out.dtype)
        return out

    def _bias(self, policy: _Injecting, like: torch.Tensor) -> torch.Tensor | None:
        # One bias per pass: every FLUX block sees the same image grid. None for an empty mask, so that
        # FASA is skipped exactly and the pass is the plain reconstruction bit for bit.
        if not policy.bias_ready:
            bias = fd_key_bias(resize_mask_to_grid(policy.mask, self._grid), policy.omega)
            policy.bias = None if bool(torch.isneginf(bias).all()) else bias.to(device=like.device, dtype=like.dtype)
            policy.bias_ready = True
        return policy.bias

    def _current_step(self) -> int:
        if self.step is None:
            raise RuntimeError("set the controller's step to the denoising step index before each model call")
        return self.step


def _distinct_rows(pd_cond_rows: Sequence[int]) -> list[int]:
    rows = [int(row) for row in pd_cond_rows]
    if not rows or len(set(rows)) != len(rows):
        raise ValueError(f"pd_cond_rows must name distinct batch rows, got {list(pd_cond_rows)}")
    return rows


def _checked_mask(mask: torch.Tensor) -> torch.Tensor:
    mask = torch.as_tensor(mask).detach().float()
    while mask.ndim > 2 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f"the FASA mask must be (H, W), got shape {tuple(mask.shape)}")
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError("the FASA mask must hold values in [0, 1]")
    return mask


def _checked_row(row: int, call: JointAttentionCall, argument: str) -> int:
    batch = call.query.shape[0]
    if not 0 <= row < batch:
        raise ValueError(f"{argument} names batch row {row}, but layer {call.name} sees {batch} rows")
    return row


def flux_controller_for(backbone, config, latent_size: tuple[int, int], cache_device=None):
    """The controller and default omega of a cure on a FLUX backbone, from the cure's settings.

    APG by re-inversion is refused: on FLUX, APG is the branch variant (the full prompt for the last
    gamma of the steps, corrections kept).
    """
    from freecure_edit.attention.flux_layers import default_flux_fasa_layers, default_flux_omega

    if config.apg == "reinvert":
        raise ConfigurationError("apg='reinvert' is not available on FLUX; use apg='branch'")
    transformer = backbone.transformer
    layers = list(config.fasa_layers) if config.fasa_layers else default_flux_fasa_layers(transformer)
    controller = FluxAttentionController(transformer, layers, latent_size, cache_device)
    return controller, default_flux_omega(transformer)
