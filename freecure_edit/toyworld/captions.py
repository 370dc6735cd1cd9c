"""Training captions as real captions are: partial and in varied order, drawn anew at every training step.

`caption_for` names every attribute a drawing shows, in one fixed order. Users type less ("a photo of a
man, round glasses"), and the cure's foundation branch gets prompts like theirs; a generator trained on
full captions only reads those as out of distribution and draws hats or sunglasses nobody asked for.

The rules (README, toy world):
- Present non-default attributes (glasses, a hat, a smiling or surprised face) are ALWAYS named. A caption
  that left out the glasses of a drawing with glasses would teach "no word about glasses" to mean "maybe
  glasses": with glasses on two thirds of the drawings, leaving them out even 5% of the time makes about
  9% of unmentioned-glasses captions show glasses. Named always, "not mentioned" means the default
  (no glasses, no hat, neutral) without exception, which is what a user's partial prompt and FD's
  template prompt rely on.
- Hair colour and hair style are dropped freely (each kept with its own probability): every drawing has
  some hair, so a caption without hair words is true of any hair, and the model learns to pick one.
- Absent attributes are sometimes named as such ("without glasses", "without a hat", "with a neutral
  expression"): still true of the drawing, and the words a removal prompt uses.
- The order of the phrases after the subject is shuffled, and the hair phrase sits either in the head
  ("a photo of a man with red hair, ...") or among the others ("..., red hair, ...").
- A caption longer than the longest full caption (77 characters, 66 byte tokens) loses its absent-attribute
  phrases, which say nothing the caption's silence does not, so no caption is cut by the tokenizer.
Every form is worded as `world.prompt_for` words it, so the project's prompt parser and the toy judges read
each caption as the attributes it names (tests/test_toyworld_captions.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freecure_edit.toyworld.world import PortraitSpec

GLASSES_WORDS = {"round": "round glasses", "sunglasses": "sunglasses", "none": "without glasses"}
HAT_WORDS = {"hat": "a hat", "none": "without a hat"}
EXPRESSION_WORDS = {"smiling": "smiling", "surprised": "surprised", "neutral": "with a neutral expression"}


@dataclass(frozen=True)
class CaptionRules:
    """Probabilities of the caption draw (see the module docstring for why each is what it is)."""

    hair_colour: float = 0.7  # name the hair colour
    hair_style: float = 0.5  # name the hair style
    absent: float = 0.15  # name an absent glasses / hat / neutral face as such, per family
    hair_in_head: float = 0.6  # "a photo of a man with red hair, ..." rather than "a photo of a man, ..., red hair"
    present: float = 1.0  # name a present non-default attribute; below 1 teaches unasked attributes


RULES = CaptionRules()
# The rules the committed toy SD (sharp3) was trained with: hair words kept more often than RULES, since
# with 0.7 / 0.5 its hair colour gate fell to 0.67 (README, toy world). The toy FLUX is trained with
# these too, so both toy generators learn the same captions.
SD_RULES = CaptionRules(hair_colour=0.85, hair_style=0.7)
# The longest caption_for of the world; the byte-level tokenizer makes 66 of its 77 tokens of it.
MAX_CHARS = 77


def named_families(spec: PortraitSpec, rng: np.random.Generator, rules: CaptionRules = RULES) -> list[str]:
    """The attribute families one caption of `spec` names, drawn by `rules`."""
    families = []
    if rng.random() < rules.hair_colour:
        families.append("hair_colour")
    if rng.random() < rules.hair_style:
        families.append("hair_style")
    for family, default in (("glasses", "none"), ("hat", "none"), ("expression", "neutral")):
        shown = getattr(spec, family) != default
        if rng.random() < (rules.present if shown else rules.absent):
            families.append(family)
    return families


def caption_of(spec: PortraitSpec, families, rng: np.random.Generator, rules: CaptionRules = RULES) -> str:
    """A caption naming exactly `families` of `spec`, phrases in an order drawn from `rng`."""
    head = f"a photo of a {spec.gender}"
    words = [w for w, f in ((spec.hair_colour, "hair_colour"), (spec.hair_style, "hair_style")) if f in families]
    phrases = []
    if "glasses" in families:
        phrases.append(GLASSES_WORDS[spec.glasses])
    if "hat" in families:
        phrases.append(HAT_WORDS[spec.hat])
    if "expression" in families:
        phrases.append(EXPRESSION_WORDS[spec.expression])
    order = rng.permutation(len(phrases) + 1)  # drawn even without hair words, so draws stay aligned
    if words:
        hair = " ".join(words + ["hair"])
        if rng.random() < rules.hair_in_head:
            head += " with " + hair
        else:
            phrases.append(hair)
            order = rng.permutation(len(phrases))
    phrases = [phrases[i] for i in order if i < len(phrases)]
    return ", ".join([head] + phrases)


def sample_caption(spec: PortraitSpec, rng: np.random.Generator, rules: CaptionRules = RULES) -> str:
    """One training caption of a drawing of `spec` (a new draw at every call)."""
    families = named_families(spec, rng, rules)
    caption = caption_of(spec, families, rng, rules)
    absent = [f for f in ("expression", "glasses", "hat") if f in families and getattr(spec, f) in ("none", "neutral")]
    while len(caption) > MAX_CHARS and absent:
        families.remove(absent.pop(0))
        caption = caption_of(spec, families, rng, rules)
    return caption
