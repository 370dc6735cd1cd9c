"""Cure settings given as data, not typed as options: a prompts-file row, a worker request's "options",
a web form. Each setting is named as the CureConfig field (pd_guidance) or as the command-line option
(pd-guidance, --fasa-layer), and its value is checked and converted as the command line would: text
("30", "true", "a;b" for a list, "none" for an optional setting) or a JSON value of the right type.

    read_overrides({"steps": "30", "fasa-layer": "a;b", "jpeg_quality": 90}, "p.csv line 4")

What a field accepts is read off CureConfig's own annotations, so a new field needs nothing here.
Ranges are not repeated: CureConfig checks its values itself.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from freecure_edit.cure.config import APG_MODES, FD_NOISES, INVERSIONS, MASK_SOURCES, METHODS, REFINERS, CureConfig
from freecure_edit.errors import ConfigurationError

LIST_SEPARATOR = ";"
JPEG_QUALITY_RANGE = (1, 100)
CHOICES = {"method": METHODS, "apg": APG_MODES, "inversion": INVERSIONS, "refine": REFINERS,
           "fd_noise": FD_NOISES, "mask_source": MASK_SOURCES}
# The command line's option names where they differ from the field's: one flag given once per value.
OPTION_ALIASES = {"fasa_layer": "fasa_layers", "attribute": "attributes"}

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})  # click reads an empty cell as false too
_TYPE_NAMES = {int: "integer", float: "float", bool: "boolean", str: "text"}


@dataclass(frozen=True)
class FieldKind:
    """What one CureConfig field takes: a scalar of `type`, or `count` of them (None: any number)."""

    type: type
    optional: bool
    sequence: bool = False
    count: int | None = None


@dataclass(frozen=True)
class Overrides:
    config: dict[str, Any] = field(default_factory=dict)  # CureConfig field -> value
    output: str | None = None
    jpeg_quality: int | None = None

    @property
    def names(self) -> list[str]:
        """What the settings change, for a dry run's listing."""
        extra = [name for name in ("output", "jpeg_quality") if getattr(self, name) is not None]
        return [*self.config, *extra]


def setting_key(name: str) -> str:
    """A setting's name as the field would spell it: "--pd-guidance" -> "pd_guidance"."""
    return name.strip().lstrip("-").replace("-", "_").lower()


def field_name_of(name: str) -> str | None:
    """The CureConfig field a setting's name means, or None."""
    key = setting_key(name)
    key = OPTION_ALIASES.get(key, key)
    return key if key in field_kinds() else None


@cache
def field_kinds() -> dict[str, FieldKind]:
    hints = typing.get_type_hints(CureConfig)
    return {item.name: _kind_of(hints[item.name]) for item in fields(CureConfig)}


def read_overrides(settings: dict[str, Any], where: str) -> Overrides:
    """The settings as CureConfig values, `output` and `jpeg_quality`; a ConfigurationError names the
    setting and `where` it came from."""
    config, output, quality = {}, None, None
    for key, value in settings.items():
        name = setting_key(key)
        label = f"{where}: {key}"
        if name == "output":
            from freecure_edit.batch.layout import check_explicit_output

            if not isinstance(value, str):
                raise ConfigurationError(f"{label}: must be a file name")
            output = check_explicit_output(value.strip(), where)
        elif name == "jpeg_quality":
            quality = _jpeg_quality(value, label)
        elif field_name_of(name) is not None:
            field_name = field_name_of(name)
            config[field_name] = read_setting(field_name, value, label)
        else:
            known = ", ".join(sorted({*field_kinds(), "output", "jpeg_quality"}))
            raise ConfigurationError(f"{label}: unknown setting; a row may set {known}")
    return Overrides(config, output, quality)


def read_setting(field_name: str, value: Any, label: str) -> Any:
    """One field's value from text or JSON."""
    kind = field_kinds()[field_name]
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        if kind.optional:
            return None
        raise ConfigurationError(f"{label}: needs a value (only settings whose default is none may be none)")
    if kind.sequence:
        items = value if isinstance(value, list) else [part for part in str(value).split(LIST_SEPARATOR)
                                                          if part.strip()]
        if kind.count is not None and len(items) != kind.count:
            raise ConfigurationError(f"{label}: needs {kind.count} values, separated by {LIST_SEPARATOR!r} in a CSV")
        return tuple(_scalar(field_name, kind.type, item, label) for item in items)
    return _scalar(field_name, kind.type, value, label)


def _kind_of(hint) -> FieldKind:
    arguments = typing.get_args(hint)
    optional = type(None) in arguments and (typing.get_origin(hint) in (typing.Union, types.UnionType))
    if optional:
        hint = next(argument for argument in arguments if argument is not type(None))
    if typing.get_origin(hint) is tuple:
        members = typing.get_args(hint)
        if len(members) == 2 and members[1] is Ellipsis:
            return FieldKind(members[0], optional, sequence=True)
        return FieldKind(members[0], optional, sequence=True, count=len(members))
    return FieldKind(hint, optional)


def _scalar(field_name: str, kind: type, value: Any, label: str) -> Any:
    if isinstance(value, str):
        converted = _from_text(kind, value.strip(), label)
    elif isinstance(value, bool) != (kind is bool) or not isinstance(value, (int, float) if kind is float else kind):
        raise ConfigurationError(f"{label}: {value!r} is not a valid {_TYPE_NAMES[kind]}")
    else:
        converted = float(value) if kind is float else value
    choices = CHOICES.get(field_name)
    if choices is not None and converted not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise ConfigurationError(f"{label}: Invalid value: {converted!r} is not one of {listed}.")
    return converted


def _from_text(kind: type, text: str, label: str) -> Any:
    if kind is str:
        return text
    if kind is bool:
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
    else:
        try:
            return kind(text)
        except ValueError:
            pass
    raise ConfigurationError(f"{label}: Invalid value: {text!r} is not a valid {_TYPE_NAMES[kind]}.")


def _jpeg_quality(value: Any, label: str) -> int:
    quality = _scalar("jpeg_quality", int, value, label)
    low, high = JPEG_QUALITY_RANGE
    if not low <= quality <= high:
        raise ConfigurationError(f"{label}: Invalid value: {quality} is not in the range {low}<=x<={high}.")
    return quality
