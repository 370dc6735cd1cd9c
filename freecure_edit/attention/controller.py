"""The one object that sees every attention call of a cure and decides what each one computes.

In the spirit of prompt-to-prompt's AttentionControl and MasaCtrl's AttentionBase: the pipeline stays
generic, sets `step` before each UNet call, and switches the controller between three policies:

- passthrough: plain attention everywhere, bit-identical to diffusers' AttnProcessor2_0;
- record (the FD pass): plain attention, while FD's conditional row leaves its keys and values at the
  FASA layers in a cache, and its cross-attention on chosen tokens is summed into maps;
- inject (the PD pass): in the FASA layers, the PD conditional rows attend over [K_pd, K_fd] with FD's keys
  biased by omega + log(mask); every other row, and every other layer, is plain attention.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from freecure_edit.attention.cross_maps import CrossAttentionMapRecorder, head_mean_probabilities
from freecure_edit.attention.fasa import fasa_attention, fd_key_bias
from freecure_edit.attention.fd_cache import FdKeyValueCache
from freecure_edit.attention.grids import layer_grid, resize_mask_to_grid
from freecure_edit.attention.layers import is_self_attention, is_up_path
from freecure_edit.attention.processor import (
    AttentionCall,
    ControlledAttnProcessor,
    PlainRouter,
    keys_and_values,
    plain_attention,
    slice_size_of,
)
from freecure_edit.errors import ConfigurationError

# Processors whose result is plain softmax attention, so replacing them for a cure changes nothing else.
# Anything else (IP-Adapter, custom LoRA processors...) would be silently dropped, so it is refused.
_PLAIN_PROCESSORS = {
    "AttnProcessor",
    "AttnProcessor2_0",
    "FusedAttnProcessor2_0",
    "SlicedAttnProcessor",
    "XFormersAttnProcessor",
    "ControlledAttnProcessor",
}


@dataclass
class _Recording:
    fd_row: int
    cache_keys_values: bool
    maps: CrossAttentionMapRecorder | None
    steps: frozenset[int] | None = None


@dataclass
class _Injecting:
    pd_rows: list[int]
    mask: torch.Tensor
    omega: float
    steps: set[int] | None
    mix: float = 1.0
    # FD key bias per token count; None where the mask is empty at that grid, so FASA is skipped exactly.
    biases: dict[int, torch.Tensor | None] = field(default_factory=dict)


class AttentionController:
    """Routes the attention of one UNet for one cure; see the module docstring for the policies.

    fasa_layers: self-attention processor names (from `default_fasa_layers`); latent_size: (h, w) of the
    latents the UNet will see; cache_device: where FD's keys and values wait between passes (None: where
    they were computed). self_attention_only: route only the self-attention layers and leave every
    cross-attention processor in place (generation inside IP-Adapter, whose cross-attention processors
    carry the identity); no cross-attention maps are recorded then.
    """

    def __init__(
        self,
        unet: torch.nn.Module,
        fasa_layers: Sequence[str],
        latent_size: tuple[int, int],
        cache_device: torch.device | str | None = None,
        self_attention_only: bool = False,
    ) -> None:
        _check_fasa_layers(unet, fasa_layers)
        self._self_attention_only = bool(self_attention_only)
        self.step: int | None = None
        self.calls = 0
        self._unet = unet
        self._fasa_layers = frozenset(fasa_layers)
        self._latent_size = (int(latent_size[0]), int(latent_size[1]))
        self._cache = FdKeyValueCache(cache_device)
        self._maps: CrossAttentionMapRecorder | None = None
        self._policy: _Recording | _Injecting | None = None

    @contextmanager
    def installed(self) -> Iterator[AttentionController]:
        """Route every attention layer of the UNet through this controller; always restore the originals."""
        originals = self._unet.attn_processors
        routed = {name: p for name, p in originals.items()
                  if not self._self_attention_only or is_self_attention(self._unet, name)}
        check_replaceable(routed)
        replaced = {name: ControlledAttnProcessor(name, self, slice_size_of(p)) if name in routed else p
                    for name, p in originals.items()}
        self._unet.set_attn_processor(replaced)
        try:
            yield self
        finally:
            # set_attn_processor pops from the dict it is given, so it gets a copy.
            self._unet.set_attn_processor(dict(originals))
            self._policy = None

    def passthrough(self) -> None:
        """Plain attention everywhere."""
        self._policy = None

    def record(self, fd_cond_row: int, capture_tokens: Mapping[str, Sequence[int]] | None = None,
               cache_keys_values: bool = True, steps: Iterable[int] | None = None) -> None:
        """Start the FD pass: batch row `fd_cond_row` is FD's conditional stream.

        Clears what an earlier FD pass left. capture_tokens maps an attribute name to its token indices in
        FD's prompt; their cross-attention maps are read with `cross_attention_maps()`. A pass that will
        never inject (ROFA needs only the maps) sets cache_keys_values False and holds no FD cache; `steps`
        limits the cache to the steps FASA will read (None: every step).
        """
        self._cache.clear()
        self._maps = CrossAttentionMapRecorder(capture_tokens, self._latent_size) if capture_tokens else None
        chosen = None if steps is None else frozenset(int(step) for step in steps)
        self._policy = _Recording(int(fd_cond_row), bool(cache_keys_values), self._maps, chosen)

    def release_cache(self) -> None:
        """Drop FD's keys and values (the PD pass is over); the cross-attention maps stay readable."""
        self._cache.clear()
        if isinstance(self._policy, _Injecting):
            self._policy = None

    def inject(
        self,
        pd_cond_rows: Sequence[int],
        mask: torch.Tensor,
        omega: float,
        steps: Iterable[int] | None = None,
        mix: float = 1.0,
    ) -> None:
        """Start the PD pass with FASA on batch rows `pd_cond_rows` at `steps` (None: every step).

        mask: (H, W) in [0, 1] at any resolution, averaged onto each layer's grid (area interpolation);
        it selects FD's key positions, so 0 hides an FD key and 1 boosts it by e^omega. mix in [0, 1]:
        the output is plain attention + mix (FASA - plain attention), the strength dial.
        """
        rows = [int(row) for row in pd_cond_rows]
        if not rows or len(set(rows)) != len(rows):
            raise ValueError(f"pd_cond_rows must name distinct batch rows, got {list(pd_cond_rows)}")
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

    def cross_attention_maps(self) -> dict[str, torch.Tensor]:
        """(h, w) latent-grid map per attribute given to record(), min-max normalised to [0, 1]."""
        return {} if self._maps is None else self._maps.maps()

    @property
    def cache_bytes(self) -> int:
        return self._cache.nbytes

    def attend(self, call: AttentionCall) -> torch.Tensor:
        """The router's answer for one attention call (see AttentionRouter)."""
        self.calls += 1
        policy = self._policy
        if isinstance(policy, _Recording):
            self._record(call, policy)
        elif isinstance(policy, _Injecting) and call.name in self._fasa_layers:
            return self._fasa(call, policy)
        return plain_attention(call.query, call.key, call.value, call.attention_mask, call.slice_size)

    def _record(self, call: AttentionCall, policy: _Recording) -> None:
        row = _checked_row(policy.fd_row, call, "fd_cond_row")
        if policy.cache_keys_values and call.name in self._fasa_layers:
            step = self._current_step()
            if policy.steps is None or step in policy.steps:
                self._cache.put(call.name, step, call.key_projection[row], call.value_projection[row])
        if call.is_cross and policy.maps is not None and is_up_path(call.name):
            mask = None if call.attention_mask is None else call.attention_mask[row]
            policy.maps.add(head_mean_probabilities(call.query[row], call.key[row], call.attn.scale, mask))

    def _fasa(self, call: AttentionCall, policy: _Injecting) -> torch.Tensor:
        step = self._current_step()
        if policy.steps is not None and step not in policy.steps:
            return plain_attention(call.query, call.key, call.value, call.attention_mask, call.slice_size)
        for row in policy.pd_rows:
            _checked_row(row, call, "pd_cond_rows")
        if call.attention_mask is not None:
            raise ValueError(f"FASA layer {call.name} got an attention mask, which FASA cannot combine")
        cached = self._cache.get(call.name, step, call.query.device)
        if cached is None:
            raise RuntimeError(
                f"FASA needs FD's keys of layer {call.name} at step {step}, which the FD pass did not record "
                f"(recorded steps: {sorted(self._cache.steps())})"
            )
        bias = self._fd_bias(policy, cached[0].shape[0], call.query)
        if bias is None:
            return plain_attention(call.query, call.key, call.value, None, call.slice_size)
        fd_key, fd_value = keys_and_values(call.attn, cached[0][None], cached[1][None])

        pd_rows = policy.pd_rows
        other_rows = [row for row in range(call.query.shape[0]) if row not in pd_rows]
        out = torch.empty_like(call.query)
        query, key, value = call.query, call.key, call.value
        out[pd_rows] = fasa_attention(
            query[pd_rows], key[pd_rows], value[pd_rows], fd_key, fd_value, bias, call.slice_size, policy.mix
        )
        if other_rows:
            out[other_rows] = plain_attention(
                query[other_rows], key[other_rows], value[other_rows], None, call.slice_size
            )
        return out

    def _fd_bias(self, policy: _Injecting, fd_positions: int, like: torch.Tensor) -> torch.Tensor | None:
        # Built once per grid, in float32 (where the log of a small mask value keeps its precision), then kept on the
        # device and in the dtype of the queries, which do not change within a pass.
        if fd_positions not in policy.biases:
            grid = layer_grid(fd_positions, self._latent_size)
            bias = fd_key_bias(resize_mask_to_grid(policy.mask, grid), policy.omega)
            empty = bool(torch.isneginf(bias).all())
            policy.biases[fd_positions] = None if empty else bias.to(device=like.device, dtype=like.dtype)
        return policy.biases[fd_positions]

    def _current_step(self) -> int:
        if self.step is None:
            raise RuntimeError("set the controller's step to the denoising step index before each UNet call")
        return self.step


def _check_fasa_layers(unet: torch.nn.Module, fasa_layers: Sequence[str]) -> None:
    if not fasa_layers:
        raise ConfigurationError("the FASA layer selection is empty; FASA needs a self-attention layer")
    known = unet.attn_processors
    for name in fasa_layers:
        if name not in known:
            raise ConfigurationError(f"{name!r} is not an attention processor of this UNet")
        if not is_self_attention(unet, name):
            raise ConfigurationError(f"FASA acts on self-attention only, and {name!r} is cross-attention")


@contextmanager
def uniform_attention(unet: torch.nn.Module) -> Iterator[None]:
    """Run `unet` under the cure's own processor, in plain attention.

    The inversion runs under it, so that its trajectory and corrections come from the same arithmetic
    as the cure's passes: under another processor (the classic one, attention slicing) an empty-mask
    cure would no longer retrace the photo. Slicing is kept inside it.
    """
    originals = unet.attn_processors
    check_replaceable(originals)
    router = PlainRouter()
    unet.set_attn_processor(
        {name: ControlledAttnProcessor(name, router, slice_size_of(p)) for name, p in originals.items()}
    )
    try:
        yield
    finally:
        unet.set_attn_processor(dict(originals))


def check_replaceable(processors: Mapping[str, object]) -> None:
    for name, processor in processors.items():
        kind = type(processor).__name__
        if kind not in _PLAIN_PROCESSORS:
            raise ConfigurationError(
                f"attention layer {name} uses {kind}, which FreeCure would replace and lose; "
                "load the model without it"
            )


def _checked_mask(mask: torch.Tensor) -> torch.Tensor:
    mask = torch.as_tensor(mask).detach().float()
    while mask.ndim > 2 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f"the FASA mask must be (H, W), got shape {tuple(mask.shape)}")
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise ValueError("the FASA mask must hold values in [0, 1]")
    return mask


def _checked_row(row: int, call: AttentionCall, argument: str) -> int:
    batch = call.query.shape[0]
    if not 0 <= row < batch:
        raise ValueError(f"{argument} names batch row {row}, but layer {call.name} sees {batch} rows")
    return row
