"""One command-line option per CureConfig field, with the dataclass's own default.

The defaults are read off the dataclass, so the CLI cannot drift from the library. Ranges are not
repeated here: CureConfig validates its values and its ConfigurationError exits with the usage code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from freecure_edit.cure.config import APG_MODES, FD_NOISES, INVERSIONS, MASK_SOURCES, METHODS, REFINERS
from freecure_edit.cure.presets import config_defaults


@dataclass(frozen=True)
class ConfigOption:
    flag: str  # the option as typed; "--x/--no-x" for a switch
    help: str
    type: Any = None
    repeatable: bool = False
    nargs: int = 1
    none_means: str | None = None  # shown as the default when the field defaults to None

    @property
    def is_switch(self) -> bool:
        return "/" in self.flag


CONFIG_OPTIONS: dict[str, ConfigOption] = {
    "method": ConfigOption("--method", "The cure method: fasa (the paper's foundation-aware self-attention) or "
                           "rofa (its first version's SAME masks and noise blending).", click.Choice(METHODS)),
    "steps": ConfigOption("--steps", "Sampling steps N (the cost is about 6N denoiser evaluations).", int,
                          none_means="the model's: 50 on SD and SDXL, 28 on FLUX.1-dev, 4 on FLUX.1-schnell"),
    "guidance": ConfigOption("--guidance", "Classifier-free guidance of the foundation branch (FLUX.1-dev: its "
                             "guidance embedding).", float,
                             none_means="the model's: 7.5 on SD and SDXL (a photo on SD 1.x: 4, beside the photo "
                                        "branch at 7.5), 3.5 on FLUX.1-dev, none on schnell"),
    "pd_guidance": ConfigOption("--pd-guidance", "Guidance of the photo branch; 1 is cheaper (4N instead of 6N "
                                "evaluations) but FASA is weaker per unit of omega.", float,
                                none_means="same as --guidance (7.5 for a photo on SD 1.x when --guidance is unset)"),
    "omega": ConfigOption("--omega", "FASA's logit boost of the foundation keys inside the mask.", float,
                          none_means="0.5 on SD 1.x, 1.5 on SDXL"),
    "strength": ConfigOption("--strength", "How much the cure changes: 0 is the photo, 1 the method as published.",
                             float),
    "fasa_layers": ConfigOption("--fasa-layer", "A self-attention processor name FASA acts on; repeat for several.",
                                str, repeatable=True, none_means="the authors' layers for the model"),
    "fasa_steps": ConfigOption("--fasa-steps", "The fraction of the steps, START END, during which FASA acts.",
                               float, nargs=2),
    "gamma": ConfigOption("--gamma", "APG restarts from this fraction of the noise schedule.", float),
    "apg": ConfigOption("--apg", "Asymmetric prompt guidance for abstract attributes: branch (free) or reinvert "
                        "(the paper's, 3 gamma N more evaluations).", click.Choice(APG_MODES)),
    "inversion": ConfigOption("--inversion", "The inversion front end.", click.Choice(INVERSIONS)),
    "fd_corrections": ConfigOption("--fd-corrections/--no-fd-corrections", "Keep the foundation branch on the "
                                   "photo's layout with the exact inversion's corrections."),
    "mask_corrections": ConfigOption("--mask-corrections", "The share of the exact inversion's corrections the "
                                     "photo branch keeps inside the attribute mask: 1 retraces the photo there, "
                                     "lower lets the cure change more of it.", float,
                                     none_means="0.5 with the exact inversion"),
    "fd_mask_corrections": ConfigOption("--fd-mask-corrections", "The share of the exact inversion's corrections "
                                        "the foundation branch keeps inside the photo's region of the "
                                        "attributes: 1 retraces the photo there, lower lets it draw the asked "
                                        "attributes over the photo's.", float,
                                        none_means="0 with the exact inversion"),
    "fd_start": ConfigOption("--fd-start", "The share of the steps during which the foundation branch keeps the "
                             "photo's inverted trajectory (still predicting with the full prompt, for FASA) "
                             "before it follows the prompt on its own; 0 starts it at the inverted noise.", float,
                             none_means="0.2 for a photo on SD 1.x, else 0"),
    "fd_blend": ConfigOption("--fd-blend", "The share of the photo branch's first steps at which its latent "
                             "inside the attribute mask is the foundation branch's (0: FASA alone carries the "
                             "foundation in, as the paper does).", float,
                             none_means="1 for a photo on SD 1.x, else 0"),
    "fd_noise": ConfigOption("--fd-noise", "Where the foundation branch starts: inverted (the photo's inverted "
                             "noise, so its layout is the photo's) or fresh (new noise from --fd-seed, as the "
                             "paper generates; its layout is its own, and it runs without corrections).",
                             click.Choice(FD_NOISES)),
    "fd_seed": ConfigOption("--fd-seed", "The seed of --fd-noise fresh.", int),
    "mask_source": ConfigOption("--mask-source", "Which parse draws an added or changed attribute's mask: both "
                                "(the photo's and the foundation image's), photo, or fd; a removal's is always "
                                "the photo's.", click.Choice(MASK_SOURCES)),
    "mask_dilation_px": ConfigOption("--mask-dilation-px", "Grow the attribute masks by this many working pixels.",
                                     int),
    "mask_feather_px": ConfigOption("--mask-feather-px", "Soften the attribute masks' edges over this many working "
                                    "pixels.", float),
    "paste_feather_px": ConfigOption("--paste-feather-px", "The soft edge of the paste-back into the photo, in "
                                     "photo pixels.", float,
                                     none_means="a 64th of the pasted region's short side (8 px at 512 px)"),
    "attributes": ConfigOption("--attribute", "An attribute phrase to cure instead of those the prompt parser "
                               "finds; repeat for several.", str, repeatable=True,
                               none_means="the prompt's attributes"),
    "template": ConfigOption("--template", "The subject prompt used to invert the photo.", str,
                             none_means="from the prompt"),
    "fd_cache_device": ConfigOption("--fd-cache-device", "Where the foundation branch's keys and values wait "
                                    "(cpu saves GPU memory).", str,
                                    none_means="the model's device; cpu for SDXL on a GPU"),
    "working_size": ConfigOption("--working-size", "The side in pixels the photo is cured at.", int,
                                 none_means="512 on SD 1.x, 1024 on SDXL"),
    "rofa_start": ConfigOption("--rofa-start", "With --method rofa, the share of the steps after which the "
                               "photo branch's noise is blended toward the foundation's.", float),
    "rofa_weight": ConfigOption("--rofa-weight", "With --method rofa, the weight of that blend inside the mask.",
                                float),
    "refine": ConfigOption("--refine", "sam tightens each attribute's mask with segment-anything (see "
                           "--sam-checkpoint) and gives words the parser has no label for a mask from attention.",
                           click.Choice(REFINERS)),
    "detect": ConfigOption("--detect/--no-detect", "Find the faces and cure each in an upright crop at the "
                           "working size; --no-detect cures the whole image (and needs no face detector)."),
    "faces": ConfigOption("--faces", "Which detected faces: largest, all, or indices such as 0,2 (0 is the "
                          "largest; `freecure-edit faces` lists them).", str),
    "face_margin": ConfigOption("--face-margin", "The crop around a face, in face sizes on each side.", float),
    "min_identity": ConfigOption("--min-identity", "The lowest identity similarity (ArcFace cosine) to accept; "
                                 "below it the cure is retried at lower strength, then exits with code 6.", float,
                                 none_means="no check"),
    "identity_retries": ConfigOption("--identity-retries", "How many times to retry below --min-identity.", int),
    "identity_retry_factor": ConfigOption("--identity-retry-factor", "Each retry multiplies the strength by this.",
                                          float),
    "draft_steps": ConfigOption("--draft-steps", "Where --steps is not given, use at most this many of the "
                                "model's own steps (--draft and the CPU set 20).", int, none_means="no limit"),
    "true_cfg": ConfigOption("--true-cfg", "FLUX: true classifier-free guidance against the foundation branch's "
                             "negative prompt, which is how a removal (\"without glasses\") works; one more "
                             "evaluation per foundation step; 1 turns it off.", float,
                             none_means="2.0 on FLUX; unused on SD and SDXL"),
}


def option_name(field_name: str) -> str:
    """The Python parameter name click gives the option of `field_name`."""
    return f"config_{field_name}"


def _click_option(field_name: str, spec: ConfigOption, default: Any):
    help_text = spec.help if spec.none_means is None else f"{spec.help}  [default: {spec.none_means}]"
    kwargs: dict[str, Any] = {"help": help_text}
    if spec.repeatable:
        kwargs.update(multiple=True, type=spec.type)
    elif spec.is_switch:
        kwargs.update(default=default, show_default=True)
    else:
        kwargs.update(type=spec.type, nargs=spec.nargs, default=default, show_default=default is not None)
    metavar = {"fasa_steps": "START END", "fasa_layers": "NAME", "attributes": "PHRASE"}.get(field_name)
    if metavar:
        kwargs["metavar"] = metavar
    return click.option(spec.flag, option_name(field_name), **kwargs)


def cure_config_options(command):
    """Decorate a click command with every CureConfig option (in the dataclass's order in --help)."""
    return config_options_for(CONFIG_OPTIONS)(command)


def config_options_for(field_names, defaults: dict[str, Any] | None = None):
    """A decorator adding the options of `field_names` only (`generate` takes those that mean something
    for a generation), with `defaults` overriding the dataclass's where that command's differ."""
    chosen = {**config_defaults(), **(defaults or {})}

    def decorate(command):
        for field_name in reversed([name for name in CONFIG_OPTIONS if name in set(field_names)]):
            command = _click_option(field_name, CONFIG_OPTIONS[field_name], chosen.get(field_name))(command)
        return command

    return decorate


def config_values(params: dict[str, Any]) -> dict[str, Any]:
    """CureConfig keyword arguments from a command's parameters (the options it has); unused repeatable
    options are None."""
    values = {}
    for field_name, spec in CONFIG_OPTIONS.items():
        if option_name(field_name) not in params:
            continue
        value = params[option_name(field_name)]
        if spec.repeatable or spec.nargs > 1:
            value = tuple(value) if value else None
        values[field_name] = value
    return values


def explicitly_given(context: click.Context) -> set[str]:
    """The CureConfig fields whose option the user typed (rather than left at the default)."""
    given = set()
    for field_name in CONFIG_OPTIONS:
        if option_name(field_name) not in context.params:
            continue
        source = context.get_parameter_source(option_name(field_name))
        if source is not None and source != click.core.ParameterSource.DEFAULT:
            given.add(field_name)
    return given
