"""A request's "options": any `fix` option, named as the CureConfig field (pd_guidance) or as the option
(pd-guidance, --fasa-layer), with JSON values, on top of the defaults the worker was started with.

The cure settings are read by the same code as a batch's prompts-file rows, so the two accept the same
names and values. The model options are refused: the models were loaded once, at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError
from freecure_edit.model_choice import MODEL_DEFAULTS
from freecure_edit.overrides import OPTION_ALIASES, read_overrides

_CONFIG_FIELDS = tuple(f.name for f in fields(CureConfig))


def _key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_").lower()


MODEL_OPTIONS = frozenset(MODEL_DEFAULTS)
OWN_OPTIONS = ("draft", "overwrite", "max_pixels", "save_intermediates")
# Told apart here, before the shared reader, so that a misspelt name is answered in the worker's terms.
SETTING_NAMES = frozenset({*_CONFIG_FIELDS, *OPTION_ALIASES, "jpeg_quality"})


@dataclass(frozen=True)
class RequestOptions:
    config: dict[str, Any] = field(default_factory=dict)  # CureConfig field -> value
    draft: bool = False
    overwrite: bool = False
    max_pixels: int | None = None  # None: the worker's
    jpeg_quality: int | None = None  # None: the worker's
    save_intermediates: Path | None = None


def read_request_options(options: dict[str, Any], where: str) -> RequestOptions:
    own: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, value in options.items():
        name = _key(key)
        label = f"{where}: {key}"
        if name in MODEL_OPTIONS:
            raise ConfigurationError(f"{label}: the models are chosen when the worker starts; start another "
                                     "worker for other models")
        if name == "output":
            raise ConfigurationError(f'{label}: give "output" next to "options", not inside them')
        if name in OWN_OPTIONS:
            own[name] = _own_option(name, value, label)
        elif name in SETTING_NAMES:
            settings[key] = value
        else:
            known = ", ".join(sorted({*_CONFIG_FIELDS, "jpeg_quality", *OWN_OPTIONS}))
            raise ConfigurationError(f"{label}: unknown option; a request's options may set {known}")
    overrides = read_overrides(settings, where)
    return RequestOptions(config=overrides.config, jpeg_quality=overrides.jpeg_quality, **own)


def _own_option(name: str, value: Any, label: str) -> Any:
    if name in ("draft", "overwrite"):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{label}: must be true or false")
        return value
    if name == "max_pixels":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"{label}: must be a whole number (0 for no limit)")
        if value < 0:
            raise ConfigurationError(f"{label}: {value} is not in the range x>=0.")  # as click says it
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{label}: must be a folder path")
    return Path(value).expanduser()
