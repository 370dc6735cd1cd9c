"""Cross-attention maps of chosen prompt tokens, averaged while FD denoises.

They give SAM its point and box prompts and the first paper version's SAME masks their H_i: for each
attribute, FD's conditional row's attention probabilities on the attribute's tokens, averaged over heads,
tokens, the up path's cross-attention layers (each brought to the latent grid) and the recorded steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from freecure_edit.attention.grids import layer_grid, resize_map_to_latent


def head_mean_probabilities(
    query: torch.Tensor, key: torch.Tensor, scale: float, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Softmax attention probabilities of one batch row, averaged over heads.

    query: (heads, positions, head_dim); key: (heads, tokens, head_dim); mask: additive, broadcastable to
    (heads, positions, tokens). Returns (positions, tokens), in float32 so fp16 sums do not saturate.
    """
    logits = torch.matmul(query.float(), key.float().transpose(-1, -2)) * scale
    if mask is not None:
        logits = logits + mask.float()
    return logits.softmax(dim=-1).mean(dim=0)


class CrossAttentionMapRecorder:
    """Running sums of per-attribute token maps at the latent grid."""

    def __init__(self, token_indices: Mapping[str, Sequence[int]], latent_size: tuple[int, int]) -> None:
        for attribute, indices in token_indices.items():
            if len(indices) == 0 or any(int(i) != i or i < 0 for i in indices):
                raise ValueError(
                    f"capture_tokens[{attribute!r}] must be a non-empty list of token indices, "
                    f"got {list(indices)}"
                )
        self._token_indices = {name: [int(i) for i in indices] for name, indices in token_indices.items()}
        self._latent_size = latent_size
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0

    def add(self, probabilities: torch.Tensor) -> None:
        """Add one layer call's (positions, tokens) probabilities."""
        positions, tokens = probabilities.shape
        grid = layer_grid(positions, self._latent_size)
        for attribute, indices in self._token_indices.items():
            if max(indices) >= tokens:
                raise ValueError(
                    f"capture_tokens[{attribute!r}] names token {max(indices)}, "
                    f"but the prompt has only {tokens} tokens"
                )
            token_map = probabilities[:, indices].mean(dim=1).reshape(grid)
            latent_map = resize_map_to_latent(token_map, self._latent_size)
            previous = self._sums.get(attribute)
            self._sums[attribute] = latent_map if previous is None else previous + latent_map
        self._count += 1

    def maps(self) -> dict[str, torch.Tensor]:
        """The average map of each attribute, min-max normalised to [0, 1] (all zeros where flat)."""
        if self._count == 0:
            raise RuntimeError(
                "no up-path cross-attention call was recorded, so there are no attention maps; "
                "run the FD pass while the controller records"
            )
        return {attribute: _min_max(total / self._count) for attribute, total in self._sums.items()}


def _min_max(attention_map: torch.Tensor) -> torch.Tensor:
    low, high = attention_map.min(), attention_map.max()
    if high <= low:
        return torch.zeros_like(attention_map)
    return (attention_map - low) / (high - low)
