"""Which FLUX blocks FASA acts on, and how strongly: a provisional rule until the toy world measures it.

FLUX.1 has 19 double-stream blocks (`transformer_blocks.N`) then 38 single-stream blocks
(`single_transformer_blocks.N`). On SD the authors act on the late layers of the up path, where the
image is being rendered rather than laid out; the analogue in a flow transformer is the later
single-stream blocks. Until the toy world's FLUX variant has chosen by evidence (issue 16, item 4),
the default is the second half of the single-stream blocks (19 of 38 on FLUX.1), and omega is 1.0,
between the authors' 0.5 (SD 1.x) and 1.5 (SDXL). Both are settings (`fasa_layers`, `omega`).
"""

from __future__ import annotations

import torch

from freecure_edit.errors import ConfigurationError

DOUBLE_PREFIX = "transformer_blocks."
SINGLE_PREFIX = "single_transformer_blocks."
PROVISIONAL_FLUX_OMEGA = 1.0


def flux_attention_layers(transformer: torch.nn.Module) -> list[str]:
    """Processor names of every joint attention layer, in execution order (double, then single)."""
    names = list(transformer.attn_processors)

    def order(name: str) -> tuple[int, int]:
        return (0 if name.startswith(DOUBLE_PREFIX) else 1, int(name.split(".")[1]))

    return sorted(names, key=order)


def default_flux_fasa_layers(transformer: torch.nn.Module) -> list[str]:
    """The second half of the single-stream blocks (at least one); see the module docstring."""
    single = [name for name in flux_attention_layers(transformer) if name.startswith(SINGLE_PREFIX)]
    if not single:
        raise ConfigurationError("this FLUX transformer has no single-stream block; pass fasa_layers explicitly")
    return single[len(single) // 2:]


def default_flux_omega(transformer: torch.nn.Module) -> float:
    return PROVISIONAL_FLUX_OMEGA
