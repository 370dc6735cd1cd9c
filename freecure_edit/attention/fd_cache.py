"""FD's keys and values, kept from the FD pass for FASA to read back in the PD pass.

Only what FASA reads is kept: the key and value projections (before the split into heads) of FD's
conditional row, at the FASA layers, per step. On SD 1.5 at 512 px that is about 24 MB per step in fp16,
on SDXL at 1024 px about 140 MB, so a cache device (the CPU) can hold it instead of the GPU; each entry
is moved back when its layer runs.
"""

from __future__ import annotations

import torch


class FdKeyValueCache:
    def __init__(self, device: torch.device | str | None = None) -> None:
        self._device = torch.device(device) if device is not None else None
        self._entries: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def put(self, layer: str, step: int, key: torch.Tensor, value: torch.Tensor) -> None:
        self._entries[(layer, step)] = (self._keep(key), self._keep(value))

    def get(self, layer: str, step: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor] | None:
        entry = self._entries.get((layer, step))
        if entry is None:
            return None
        key, value = entry
        return key.to(device), value.to(device)

    def steps(self) -> set[int]:
        return {step for _, step in self._entries}

    def clear(self) -> None:
        self._entries.clear()

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for entry in self._entries.values() for t in entry)

    def _keep(self, projection: torch.Tensor) -> torch.Tensor:
        # A copy, never a view: a view of one batch row would keep the whole batch's tensor alive.
        device = self._device if self._device is not None else projection.device
        return projection.detach().to(device=device, copy=True)
