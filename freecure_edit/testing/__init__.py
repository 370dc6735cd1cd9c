"""Tiny random-weight models for tests and benchmarks, built offline in a fraction of a second: one
module per family (sd.py for SD 1.5 and SDXL, flux.py, flux_bfl.py for Black Forest Labs' file layout,
single_file.py for original-layout checkpoints), their shared parts in common.py.

May import the libraries only: nothing else of freecure_edit, so tests can build models for any layer.
No weights can be downloaded where this project is tested, so the suite and the benchmarks build these,
save them with `save_pretrained` (saving.py), and load them back through `freecure_edit.models`. They
have the layout of the real models (same block types, same conditioning), only narrower and shallower.
"""

from __future__ import annotations

from freecure_edit.testing.common import BYTE_VOCAB_SIZE, tiny_clip_tokenizer
from freecure_edit.testing.flux import tiny_flux_pipeline, tiny_flux_transformer, tiny_t5_tokenizer
from freecure_edit.testing.saving import save_tiny_pipeline
from freecure_edit.testing.sd import tiny_sd_pipeline, tiny_sdxl_pipeline

__all__ = [
    "BYTE_VOCAB_SIZE",
    "save_tiny_pipeline",
    "tiny_clip_tokenizer",
    "tiny_flux_pipeline",
    "tiny_flux_transformer",
    "tiny_sd_pipeline",
    "tiny_sdxl_pipeline",
    "tiny_t5_tokenizer",
]
