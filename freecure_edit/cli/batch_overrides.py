"""The settings a prompts-file row gives its image: any cure option, named as the field (pd_guidance)
or as the option (pd-guidance, --fasa-layer), plus `jpeg_quality` and `output`. Values are checked
and converted as the command line would: text from a CSV cell ("30", "true", "a;b" for a list, "none"
for an optional setting) or JSON values from a JSONL line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from freecure_edit.batch.layout import check_explicit_output
from freecure_edit.cli.config_options import CONFIG_OPTIONS, ConfigOption, config_defaults
from freecure_edit.errors import ConfigurationError

LIST_SEPARATOR = ";"
_JPEG_QUALITY = click.IntRange(1, 100)


def _key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_").lower()


def _aliases() -> dict[str, str]:
    names = {}
    for field_name, spec in CONFIG_OPTIONS.items():
        names[field_name] = field_name
        names[_key(spec.flag.split("/")[0])] = field_name  # --fasa-layer -> fasa_layers
    return names


_FIELD_NAMES = _aliases()


@dataclass(frozen=True)
class Overrides:
    config: dict[str, Any] = field(default_factory=dict)  # CureConfig field -> value
    output: str | None = None
    jpeg_quality: int | None = None

    @property
    def names(self) -> list[str]:
        """What the row changes, for the dry run's listing."""
        extra = [name for name in ("output", "jpeg_quality") if getattr(self, name) is not None]
        return [*self.config, *extra]


def read_overrides(settings: dict[str, Any], where: str) -> Overrides:
    config, output, quality = {}, None, None
    for key, value in settings.items():
        name = _key(key)
        label = f"{where}: {key}"
        if name == "output":
            if not isinstance(value, str):
                raise ConfigurationError(f"{label}: must be a file name")
            output = check_explicit_output(value.strip(), where)
        elif name == "jpeg_quality":
            quality = _converted(_JPEG_QUALITY, int, value, label)
        elif name in _FIELD_NAMES:
            field_name = _FIELD_NAMES[name]
            config[field_name] = _setting(field_name, value, label)
        else:
            known = ", ".join(sorted(set(_FIELD_NAMES.values()) | {"output", "jpeg_quality"}))
            raise ConfigurationError(f"{label}: unknown setting; a row may set {known}")
    return Overrides(config, output, quality)


def _setting(field_name: str, value: Any, label: str) -> Any:
    spec = CONFIG_OPTIONS[field_name]
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        if config_defaults()[field_name] is None:
            return None
        raise ConfigurationError(f"{label}: needs a value (only settings whose default is none may be none)")
    if spec.repeatable or spec.nargs > 1:
        items = value if isinstance(value, list) else [part for part in str(value).split(LIST_SEPARATOR)
                                                          if part.strip()]
        if spec.nargs > 1 and len(items) != spec.nargs:
            raise ConfigurationError(f"{label}: needs {spec.nargs} values, separated by {LIST_SEPARATOR!r} in a CSV")
        return tuple(_scalar(spec, item, label) for item in items)
    return _scalar(spec, value, label)


def _scalar(spec: ConfigOption, value: Any, label: str) -> Any:
    if spec.is_switch:
        return _converted(click.BOOL, bool, value, label)
    kind = spec.type if spec.type in (int, float) else str
    return _converted(click.types.convert_type(spec.type), kind, value, label)


def _converted(param_type: click.ParamType, kind: type, value: Any, label: str) -> Any:
    """`value` as `param_type` reads it from text, or a JSON value already of `kind`."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bool) != (kind is bool):
        raise ConfigurationError(f"{label}: {value!r} is not a valid {param_type.name}")
    elif kind is float and isinstance(value, (int, float)):
        text = repr(float(value))
    elif isinstance(value, kind):
        text = str(value)
    else:
        raise ConfigurationError(f"{label}: {value!r} is not a valid {param_type.name}")
    try:
        return param_type.convert(text, None, None)
    except click.BadParameter as error:
        raise ConfigurationError(f"{label}: {error.format_message()}") from None
