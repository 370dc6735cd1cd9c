"""Characters a prompt can hold that nobody sees: taken out before the prompt is read.

Text pasted from a web page or a chat carries soft hyphens (U+00AD in "smi­ling"), zero-width spaces
(U+200B), word joiners (U+2060), byte-order marks and direction marks: all of Unicode's "format"
category (Cf). They split a word the parser must find ("smiling" would go into the inversion's template
and never be cured; "sun​glasses" would be cured as plain glasses) and mean nothing to the text encoder.
The prompt is also put in Unicode's NFKC form, so that full-width letters, ligatures and the like read
as the plain letters they show. Control characters other than white space become spaces.
"""

from __future__ import annotations

import unicodedata


def normalised_prompt(prompt: str) -> tuple[str, str | None]:
    """The prompt as it will be read, and a note naming what was taken out or changed (None if nothing)."""
    removed = sorted({char for char in prompt if unicodedata.category(char) == "Cf"})
    text = "".join(char for char in prompt if unicodedata.category(char) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(char) == "Cc" and not char.isspace() else char for char in text)
    if text == prompt:
        return text, None
    if removed:
        names = ", ".join(f"U+{ord(char):04X} {unicodedata.name(char, 'FORMAT CHARACTER')}" for char in removed)
        return text, f"invisible characters taken out of the prompt ({names}); it is read as {text!r}"
    return text, f"the prompt is read in its plain form (Unicode NFKC): {text!r}"
