"""What the worker was started with, and the settings of one request on top of it.

A request's options change the start-up defaults the way typing the option would have: on the CPU the
draft preset still fills in the steps a request leaves unset, and a request that sets them wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freecure_edit.model_choice import ModelChoice
from freecure_edit.cure.presets import apply_presets
from freecure_edit.worker.options import RequestOptions
from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA


@dataclass(frozen=True)
class WorkerDefaults:
    values: dict[str, Any]  # CureConfig keyword arguments from the command line
    given: frozenset[str]  # the fields typed on the command line
    draft: bool
    device_type: str
    choice: ModelChoice
    detector_loaded: bool
    jpeg_quality: int
    max_pixels: int | None  # as --max-pixels: None for the default, 0 for no limit
    metadata: str = DEFAULT_METADATA  # what of the input's metadata a written output keeps (--metadata)

    def config(self, options: RequestOptions | None = None) -> tuple[CureConfig, list[str]]:
        """The CureConfig of a request with `options` (the start-up one without), and the presets' notes."""
        options = options or RequestOptions()
        values = {**self.values, **options.config}
        given = self.given | set(options.config)
        values, notes = apply_presets(values, given, draft=self.draft or options.draft, device_type=self.device_type)
        config = CureConfig(**values)
        if config.detect and not self.detector_loaded:
            raise ConfigurationError("detect needs a face detector and this worker was started with --no-detect; "
                                     "start it without --no-detect, or leave detect false")
        return config, notes

    def models(self, config: CureConfig) -> dict[str, str]:
        return self.choice.parameters(config.detect and self.detector_loaded)
