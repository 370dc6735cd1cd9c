"""Methods by name, each an adapter (photo, prompt, seed) -> output and cost:

| spec | what |
| --- | --- |
| input | the photo itself (the baseline of the deltas) |
| fd | the foundation image alone (the cure's FD branch) |
| cure, cure:method=rofa,omega=1 | the cure with CureConfig overrides |
| ledits | LEDITS++ through diffusers |
| img2img, img2img:strength=0.3 | img2img through diffusers, strength 0.5 by default |
"""

from __future__ import annotations

from freecure_edit.errors import ConfigurationError
from freecure_edit.evaluation.methods.base import Method, MethodOutput, UnetCounter, measured

METHODS = ("input", "fd", "cure", "ledits", "img2img")
DEFAULT_METHODS = ("input", "fd", "cure", "ledits", "img2img")


def split_spec(spec: str) -> tuple[str, str]:
    """"cure:method=rofa" -> ("cure", "method=rofa"); an unknown name is a usage error."""
    name, _, options = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in METHODS:
        raise ConfigurationError(f"unknown method {name!r}; use one of {', '.join(METHODS)}")
    if options.strip() and name not in ("cure", "fd", "img2img"):
        raise ConfigurationError(f"method {spec!r}: {name} takes no settings")
    return name, options.strip()


def check_method_specs(specs) -> tuple[str, ...]:
    """The specs, checked (names and settings) without loading anything, duplicates dropped."""
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.evaluation.methods.cure import config_overrides

    checked = []
    for spec in specs:
        name, options = split_spec(spec)
        canonical = f"{name}:{options}" if options else name
        if name in ("cure", "fd"):
            try:
                CureConfig().with_changes(**config_overrides(options, spec))
            except TypeError as error:
                raise ConfigurationError(f"method {spec!r}: {error}") from None
        elif name == "img2img":
            _img2img_strength(options, spec)
        if canonical not in checked:
            checked.append(canonical)
    if not checked:
        raise ConfigurationError(f"no method given; use some of {', '.join(METHODS)}")
    return tuple(checked)


def _img2img_strength(options: str, spec: str) -> float:
    from freecure_edit.evaluation.methods.peers import IMG2IMG_STRENGTH

    if not options:
        return IMG2IMG_STRENGTH
    key, _, value = options.partition("=")
    try:
        strength = float(value)
    except ValueError:
        strength = -1.0
    if key.strip() != "strength" or not 0.0 < strength <= 1.0:
        raise ConfigurationError(f"method {spec!r}: img2img takes strength=S with 0 < S <= 1")
    return strength


LEDITS_ON_FLUX = ("LEDITS++ has no FLUX pipeline in diffusers (its inversion and edit guidance are built on "
                  "classifier-free guidance, which guidance-distilled FLUX does not have)")


def build_method(spec: str, *, pipe, counter, cache, base_config, steps: int, guidance: float,
                 backbone=None) -> Method:
    """The adapter for `spec`, sharing the loaded pipeline, the evaluation counter and the cure cache.
    `backbone` (the cure's) says the model family: a method that does not apply to it is skipped."""
    from freecure_edit.evaluation.methods.base import SkippedMethod
    from freecure_edit.evaluation.methods.cure import CureMethod, FoundationMethod, config_overrides
    from freecure_edit.evaluation.methods.peers import Img2ImgMethod, LeditsMethod
    from freecure_edit.evaluation.methods.simple import InputMethod

    name, options = split_spec(spec)
    flux = backbone is not None and backbone.kind == "flux"
    if name == "input":
        return InputMethod(spec)
    if name == "cure":
        return CureMethod(spec, cache, base_config, config_overrides(options, spec))
    if name == "fd":
        return FoundationMethod(spec, cache, base_config, config_overrides(options, spec))
    if name == "ledits":
        return SkippedMethod(spec, name, LEDITS_ON_FLUX) if flux else LeditsMethod(spec, pipe, counter, steps)
    call_options = {"max_sequence_length": backbone.max_sequence_length} if flux else {}
    return Img2ImgMethod(spec, pipe, counter, steps, guidance, _img2img_strength(options, spec), call_options)


__all__ = ["DEFAULT_METHODS", "METHODS", "Method", "MethodOutput", "UnetCounter", "build_method",
           "check_method_specs", "measured", "split_spec"]
