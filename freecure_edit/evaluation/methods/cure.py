"""The cure (fasa or rofa, with any CureConfig override) and FD alone (its foundation image).

The cure does not depend on the seed (the photo's inversion is deterministic), so one cure serves every
seed and both methods when their settings agree; its cost is always the cure's own, read from its
stats, never the cache's. FreeCure itself reuses a photo's inversion across cures; each setting here
inverts afresh, so that its cost does not depend on which setting ran before it.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import get_args, get_origin, get_type_hints

from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError
from freecure_edit.evaluation.methods.base import Method, MethodOutput

# The phases that make the foundation image: the photo's inversion and the foundation branch.
FD_PHASES = ("inversion", "foundation")


def config_overrides(text: str, spec: str) -> dict:
    """"method=rofa,omega=1" -> {"method": "rofa", "omega": 1.0}, typed like CureConfig's fields."""
    defaults = {f.name: f.default for f in fields(CureConfig)}
    values = {}
    for part in (piece.strip() for piece in text.split(",") if piece.strip()):
        key, equals, value = part.partition("=")
        name = key.strip().replace("-", "_").lower()
        if not equals or name not in defaults:
            known = ", ".join(sorted(defaults))
            raise ConfigurationError(f"method {spec!r}: {part!r} is not SETTING=VALUE with a cure setting ({known})")
        values[name] = _typed(name, value.strip(), defaults[name], spec)
    return values


def _typed(name: str, value: str, default, spec: str):
    if value.lower() == "none" and default is None:
        return None
    kind = _field_kind(name)
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if kind is tuple:
            items = [item.strip() for item in value.split(";") if item.strip()]
            return tuple(float(item) for item in items) if name == "fasa_steps" else tuple(items)
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"method {spec!r}: {name}={value!r} is not a {kind.__name__}") from None


def _field_kind(name: str) -> type:
    """The type a CureConfig field's value has when given, read from its annotation: a default of None
    says nothing about it (a hand-kept table of those fields once missed mask_corrections, fd_start and
    others, and their specs crashed)."""
    hint = get_type_hints(CureConfig)[name]
    if get_origin(hint) is tuple:  # tuple[float, float]
        return tuple
    given = [arg for arg in get_args(hint) if arg is not type(None)] or [hint]  # float | None -> float
    return get_origin(given[0]) or given[0]  # tuple[str, ...] | None -> tuple


class CureCache:
    """Cures of the current photo and prompt by settings, so that FD, the cure and every seed share one."""

    def __init__(self, freecure):
        self.freecure = freecure
        self._results: dict = {}
        self._current = None

    def cure(self, photo, prompt: str, config: CureConfig):
        photo_key = (hashlib.sha256(photo.tobytes()).hexdigest(), photo.size)
        if self._current != (photo_key, prompt):
            self._results.clear()
            self._current = (photo_key, prompt)
        if config not in self._results:
            self.freecure.forget_inversions()
            self._results[config] = self.freecure.cure(photo, prompt, config)
        return self._results[config]


class CureMethod(Method):
    kind = "cure"

    def __init__(self, spec: str, cache: CureCache, base: CureConfig, overrides: dict):
        super().__init__(spec)
        self.cache = cache
        try:
            self.config = base.with_changes(**overrides)
        except TypeError as error:
            raise ConfigurationError(f"method {spec!r}: {error}") from None

    def _result(self, photo, prompt):
        return self.cache.cure(photo, prompt, self.config)

    def run(self, photo, prompt, seed):
        result = self._result(photo, prompt)
        return MethodOutput(
            image=result.image,
            evaluations=result.stats.total_evaluations,
            seconds=result.stats.total_seconds,
            peak_memory_bytes=result.stats.peak_memory_bytes or None,
            mask=result.masks.get("union"),
            masks={k: v for k, v in result.masks.items() if k not in ("union", "paste")},
            fd_image=result.fd_image,
            warnings=list(result.warnings),
        )


class FoundationMethod(CureMethod):
    """FD alone: the cure's foundation image (the prompt from the photo's inverted noise), with the cost
    of the inversion and the foundation branch only."""

    kind = "fd"

    def run(self, photo, prompt, seed):
        result = self._result(photo, prompt)
        if result.fd_image is None:  # the prompt names nothing to cure: no foundation pass ran
            return MethodOutput(photo.copy(), warnings=list(result.warnings))
        stats = result.stats
        image = result.fd_image if result.fd_image.size == photo.size else result.fd_image.resize(photo.size)
        return MethodOutput(
            image=image,
            evaluations=sum(stats.evaluations.get(phase, 0) for phase in FD_PHASES),
            seconds=sum(stats.seconds.get(phase, 0.0) for phase in FD_PHASES),
            peak_memory_bytes=stats.peak_memory_bytes or None,
            mask=result.masks.get("union"),
            masks={k: v for k, v in result.masks.items() if k not in ("union", "paste")},
            fd_image=result.fd_image,
        )
