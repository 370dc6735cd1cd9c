"""A toy world in which a cure can be judged: procedurally drawn portraits with known identities and
attributes, and small models trained on them (a Stable Diffusion in miniature, a SegFormer face parser,
an attribute judge and an identity judge). See the README's "Toy world" section.

Importing this package imports no torch model code; `load_judges` and the training modules do.

Its own world: may import models/, backbones/, masks/ and testing/; never the method or a front end.
"""

from freecure_edit.toyworld.assets import model_dir
from freecure_edit.toyworld.world import (
    DARK_HAIR, EXPRESSIONS, FAMILIES, GLASSES, HAIR_COLOURS, HAIR_STYLES, HATS, IDENTITIES, LABEL_NAMES, Drawing,
    PortraitSpec, caption_for, draw, prompt_for, sample_spec,
)


def load_judges(folder=None):
    """The toy world's judges (see `freecure_edit.toyworld.judges.load_judges`)."""
    from freecure_edit.toyworld.judges import load_judges as _load

    return _load(folder)


__all__ = [
    "DARK_HAIR", "EXPRESSIONS", "FAMILIES", "GLASSES", "HAIR_COLOURS", "HAIR_STYLES", "HATS", "IDENTITIES",
    "LABEL_NAMES", "Drawing", "PortraitSpec", "caption_for", "draw", "load_judges", "model_dir", "prompt_for",
    "sample_spec",
]
