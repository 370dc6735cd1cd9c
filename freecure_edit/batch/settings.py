"""What a batch is asked to do: one field per `freecure-edit batch` option, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA

DEFAULT_JPEG_QUALITY = 95


@dataclass(frozen=True)
class BatchSettings:
    input_dir: Path
    output_dir: Path
    prompt: str | None = None  # every image's prompt, or the one of those the prompts file gives none
    prompts_file: Path | None = None  # CSV or JSONL: a prompt (and settings) per file
    recursive: bool = False
    patterns: tuple[str, ...] = ()  # --glob
    output_format: str = "png"  # png, jpg or webp
    resume: bool = False
    overwrite: bool = False
    # CureConfig keyword arguments; those left out take CureConfig's defaults.
    config: dict[str, Any] = field(default_factory=dict)
    # The config fields the user chose, which the draft and CPU presets leave alone; None: config's keys.
    given: frozenset[str] | None = None
    draft: bool = False
    # The models and where they run: freecure_edit.model_choice.MODEL_DEFAULTS' keys (model, parser,
    # face_pack, device, dtype, ...); those left out take their default.
    models: dict[str, Any] = field(default_factory=dict)
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    metadata: str = DEFAULT_METADATA  # imageio.metadata_policy: keep, strip-private or strip
    max_pixels: int | None = None  # None: the library's limit; 0: no limit
    debug: bool = False  # tracebacks of failed images on stderr

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_dir", Path(self.input_dir))
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        if self.prompts_file is not None:
            object.__setattr__(self, "prompts_file", Path(self.prompts_file))
        object.__setattr__(self, "patterns", tuple(self.patterns))

    @property
    def chosen(self) -> frozenset[str]:
        return frozenset(self.config) if self.given is None else frozenset(self.given)

    @property
    def device(self) -> str | None:
        return self.models.get("device")

    def config_values(self) -> dict[str, Any]:
        from freecure_edit.cure.presets import config_defaults

        return {**config_defaults(), **self.config}
