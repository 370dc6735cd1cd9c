"""Helpers for the cure tests on the committed toy models: loading a toy cure and curing drawings."""

from __future__ import annotations

from freecure_edit import CureConfig
from freecure_edit.toyworld.world import PortraitSpec, draw, prompt_for

# (identity, dark hair colour, hair style, seed) of the drawings the cures start from.
SUBJECTS = [(0, "black", "straight", 101), (3, "brown", "curly", 102), (6, "black", "curly", 103), (9, "brown", "straight", 104)]


def load_toy_cure(model: str):
    """(FreeCure on the committed toy `model` ("sd" or "flux") with the toy parser, the toy judges)."""
    from freecure_edit import FreeCure
    from freecure_edit.toyworld.assets import model_dir
    from freecure_edit.toyworld.judges import load_judges

    cure = FreeCure.from_pretrained(str(model_dir(model)), parser="segformer", parser_model=str(model_dir("parser")),
                                    device="cpu", detector=None)
    cure.pipe.set_progress_bar_config(disable=True)
    return cure, load_judges()


def cure_subjects(cure, families, changes, base=None, subjects=SUBJECTS, **config):
    """[(drawing, prompt, result)]: each subject drawn (with `base` attributes) and cured with a prompt
    asking for `families` of the subject changed by `changes`."""
    out = []
    for identity, colour, style, seed in subjects:
        spec = PortraitSpec(identity=identity, hair_colour=colour, hair_style=style, **(base or {}))
        drawing = draw(spec, seed)
        prompt = prompt_for(spec.with_changes(**changes), families)
        out.append((drawing, prompt, cure.cure(drawing.image, prompt, CureConfig(**config))))
    return out
