"""The UNet's attention processors as they were loaded, put back after every request.

The cure installs its own processors for the length of a run and restores them itself, even when the
run fails or is cancelled. The service checks anyway: it lives for many requests, and one run's processors left in place
would steer every later cure (or make it refuse to start), long after the request that caused it.
"""

from __future__ import annotations

import torch


class AttentionHookGuard:
    def __init__(self, unet: torch.nn.Module):
        self._unet = unet
        self._originals = dict(unet.attn_processors)

    def restore(self) -> bool:
        """Put the loaded processors back if any was replaced; True when something had to be restored."""
        current = self._unet.attn_processors
        unchanged = current.keys() == self._originals.keys() and all(
            current[name] is processor for name, processor in self._originals.items()
        )
        if unchanged:
            return False
        # set_attn_processor pops from the dict it is given, so it gets a copy.
        self._unet.set_attn_processor(dict(self._originals))
        return True
