"""A grayscale photo keeps its grayscale when written (imageio.colour): a colour the prompt asks for is
cured into `result.image` but leaves only a shade of gray in the output file, so the user is told."""

from __future__ import annotations

import re

from freecure_edit.prompts.model import Attribute
from freecure_edit.prompts.vocabulary import COLOURS, GRAYS

# The colour modifiers, and words that are a colour on their own ("a redhead"); black, white, gray and
# silver are left out: a grayscale output shows them as asked.
COLOUR_WORDS = (COLOURS - GRAYS) | {"redhead", "redheaded", "brunette", "colourful", "colorful"}


def colour_lost_warning(attributes: list[Attribute]) -> str | None:
    """The warning for a grayscale photo whose prompt asks for a colour; None when none does."""
    asked = [a.text for a in attributes if not a.remove and COLOUR_WORDS & set(re.findall(r"[a-z]+", a.text.lower()))]
    if not asked:
        return None
    named = ", ".join(repr(text) for text in asked)
    return (f"the photo is grayscale and its output is written in grayscale, so the colour of {named} shows "
            "only as a shade of gray; convert the photo to RGB first to keep it")
