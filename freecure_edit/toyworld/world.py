"""The toy world: procedurally drawn portraits whose identity and attributes are known exactly.

A drawing is made from a `PortraitSpec` (who, and which attributes) and a seed (where, how big, what
background), at twice the size and downsampled, so edges are smooth. Every shape is painted twice: in
colour into the image and as a class index into the label map, in the CelebAMask-HQ names the face
parsers report. Identities differ in face shape, skin tone, eye spacing, nose and jaw; the attributes
are the ones the project's prompt parser knows (hair colour and style, glasses, expression, hat).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# CelebAMask-HQ classes in the order of the SegFormer face parser (`jonathandinu/face-parsing`).
LABEL_NAMES: tuple[str, ...] = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)
LABEL = {name: index for index, name in enumerate(LABEL_NAMES)}

IDENTITIES = 16
HAIR_COLOURS: tuple[str, ...] = ("black", "brown", "blonde", "red")
HAIR_STYLES: tuple[str, ...] = ("straight", "curly")
GLASSES: tuple[str, ...] = ("none", "round", "sunglasses")
EXPRESSIONS: tuple[str, ...] = ("neutral", "smiling", "surprised")
HATS: tuple[str, ...] = ("none", "hat")

# Attribute family -> allowed values; the judges predict one value per family.
FAMILIES: dict[str, tuple[str, ...]] = {
    "hair_colour": HAIR_COLOURS,
    "hair_style": HAIR_STYLES,
    "glasses": GLASSES,
    "expression": EXPRESSIONS,
    "hat": HATS,
}
DARK_HAIR: tuple[str, ...] = ("black", "brown")

_HAIR_RGB = {"black": (28, 24, 24), "brown": (112, 68, 36), "blonde": (228, 196, 108), "red": (204, 62, 28)}
_SKIN_TONES = ((246, 214, 190), (233, 188, 152), (214, 160, 120), (178, 122, 84), (140, 92, 62), (102, 66, 46))
_SUPERSAMPLE = 2


@dataclass(frozen=True)
class PortraitSpec:
    """Who is drawn and with which attributes; values from the module's constants."""

    identity: int
    hair_colour: str = "black"
    hair_style: str = "straight"
    glasses: str = "none"
    expression: str = "neutral"
    hat: str = "none"

    def __post_init__(self):
        if not 0 <= self.identity < IDENTITIES:
            raise ValueError(f"identity must be in 0..{IDENTITIES - 1}, got {self.identity}")
        for family, values in FAMILIES.items():
            if getattr(self, family) not in values:
                raise ValueError(f"{family} must be one of {values}, got {getattr(self, family)!r}")

    @property
    def gender(self) -> str:
        return _identity(self.identity).gender

    def attributes(self) -> dict[str, str]:
        return {family: getattr(self, family) for family in FAMILIES}

    def with_changes(self, **changes) -> "PortraitSpec":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Drawing:
    image: Image.Image  # RGB, size x size
    labels: np.ndarray  # uint8 (size, size), indices into LABEL_NAMES
    caption: str
    spec: PortraitSpec
    seed: int | None = None  # the jitter's seed: with `spec` and the size, the world redraws it exactly


@dataclass(frozen=True)
class _Identity:
    gender: str
    face_w: float
    face_h: float
    jaw: float
    skin: tuple[int, int, int]
    eye_spacing: float
    eye_size: float
    nose_length: float
    nose_width: float


def _identity(index: int) -> _Identity:
    # Fixed per identity, independent of any drawing's seed.
    rng = np.random.default_rng([7919, index])
    tone = np.array(_SKIN_TONES[index % len(_SKIN_TONES)]) + rng.integers(-8, 9, 3)
    return _Identity(
        gender="woman" if index % 2 == 0 else "man",
        face_w=float(rng.uniform(0.82, 1.12)),
        face_h=float(rng.uniform(0.88, 1.12)),
        jaw=float(rng.uniform(0.45, 0.95)),
        skin=tuple(int(v) for v in np.clip(tone, 0, 255)),
        eye_spacing=float(rng.uniform(0.32, 0.52)),
        eye_size=float(rng.uniform(0.8, 1.25)),
        nose_length=float(rng.uniform(0.15, 0.38)),
        nose_width=float(rng.uniform(0.08, 0.2)),
    )


def sample_spec(rng: np.random.Generator, **fixed) -> PortraitSpec:
    """A random portrait spec; keyword arguments fix chosen fields (identity, hair_colour, ...)."""
    values = {"identity": int(rng.integers(IDENTITIES))}
    for family, choices in FAMILIES.items():
        values[family] = choices[int(rng.integers(len(choices)))]
    values.update(fixed)
    return PortraitSpec(**values)


def _hair_phrase(colour: str | None, style: str | None) -> str:
    return " ".join(word for word in (colour, style, "hair") if word)


def prompt_for(spec: PortraitSpec, families=None) -> str:
    """A prompt asking for the chosen attribute families of `spec` (all when None).

    Absent attributes asked for explicitly read as removals ("without glasses"); a neutral expression is
    said only when asked for. `caption_for` is `prompt_for` with every family the drawing shows.
    """
    families = list(FAMILIES) if families is None else list(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown attribute families {unknown}; use {list(FAMILIES)}")
    parts = []
    colour = spec.hair_colour if "hair_colour" in families else None
    style = spec.hair_style if "hair_style" in families else None
    head = f"a photo of a {spec.gender}"
    if colour or style:
        head += " with " + _hair_phrase(colour, style)
    if "glasses" in families:
        parts.append({"none": "without glasses", "round": "round glasses", "sunglasses": "sunglasses"}[spec.glasses])
    if "hat" in families:
        parts.append("a hat" if spec.hat == "hat" else "without a hat")
    if "expression" in families:
        parts.append({"neutral": "with a neutral expression", "smiling": "smiling", "surprised": "surprised"}[spec.expression])
    return ", ".join([head] + parts)


def caption_for(spec: PortraitSpec) -> str:
    """The plain-English caption of a drawing: what it shows, leaving out absent glasses and hat and a
    neutral face (which the model learns as the default), so it stays under CLIP's 77 byte tokens."""
    families = ["hair_colour", "hair_style"]
    if spec.glasses != "none":
        families.append("glasses")
    if spec.hat != "none":
        families.append("hat")
    if spec.expression != "neutral":
        families.append("expression")
    return prompt_for(spec, families)


class _Canvas:
    """Paints each shape into the RGB image and, with its class, into the label map."""

    def __init__(self, size: int, top: tuple, bottom: tuple):
        self.size = size
        gradient = np.linspace(0.0, 1.0, size)[:, None, None]
        pixels = (1 - gradient) * np.array(top) + gradient * np.array(bottom)
        self.image = Image.fromarray(np.repeat(pixels, size, axis=1).astype(np.uint8), "RGB")
        self.labels = Image.new("L", (size, size), LABEL["background"])
        self.rgb = ImageDraw.Draw(self.image)
        self.lab = ImageDraw.Draw(self.labels)

    def ellipse(self, box, fill, label, outline=None, width=1):
        self.rgb.ellipse(box, fill=fill, outline=outline, width=width)
        if label is not None:
            self.lab.ellipse(box, fill=LABEL[label])

    def polygon(self, points, fill, label):
        self.rgb.polygon(points, fill=fill)
        if label is not None:
            self.lab.polygon(points, fill=LABEL[label])

    def line(self, points, fill, width, label):
        self.rgb.line(points, fill=fill, width=width, joint="curve")
        if label is not None:
            self.lab.line(points, fill=LABEL[label], width=width, joint="curve")

    def rectangle(self, box, fill, label):
        self.rgb.rectangle(box, fill=fill)
        if label is not None:
            self.lab.rectangle(box, fill=LABEL[label])


def _shade(rgb, factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * factor, 0, 255)) for v in rgb)


def _face_outline(cx, cy, fw, fh, jaw, n=48):
    points = []
    for k in range(n):
        t = 2 * math.pi * k / n
        down = max(0.0, math.sin(t))
        narrowing = 1 - (1 - jaw) * down**2
        points.append((cx + fw * math.cos(t) * narrowing, cy + fh * math.sin(t)))
    return points


def draw(spec: PortraitSpec, seed: int, size: int = 64, hat_rgb: tuple[int, int, int] | None = None) -> Drawing:
    """Draw `spec` with position, scale, colours and background jittered by `seed`; `hat_rgb` paints the
    hat in that colour instead of the seed's (no caption or prompt names a hat's colour, so the ideal edit
    of "a hat" may take any: toyworld.ideal)."""
    rng = np.random.default_rng([4241, int(seed)])
    person = _identity(spec.identity)
    big = size * _SUPERSAMPLE
    u = big / 64.0  # drawing units: one pixel of a 64 px image
    scale = rng.uniform(0.9, 1.1) * u
    cx = big / 2 + rng.uniform(-4, 4) * u
    cy = big / 2 + rng.uniform(-3, 3) * u + 2 * u
    top = rng.integers(60, 200, 3)
    bottom = np.clip(top + rng.integers(-50, 51, 3), 0, 255)
    canvas = _Canvas(big, tuple(int(v) for v in top), tuple(int(v) for v in bottom))

    fw, fh = 14.5 * person.face_w * scale, 18.0 * person.face_h * scale
    skin = _shade(person.skin, rng.uniform(0.95, 1.05))
    hair = tuple(int(np.clip(v + rng.integers(-10, 11), 0, 255)) for v in _HAIR_RGB[spec.hair_colour])
    long_hair = person.gender == "woman"

    # Clothes and neck, behind the head.
    cloth = tuple(int(v) for v in rng.integers(30, 230, 3))
    shoulders_y = cy + fh + 7 * scale
    canvas.polygon([(cx - 30 * scale, big), (cx - 22 * scale, shoulders_y), (cx + 22 * scale, shoulders_y),
                    (cx + 30 * scale, big)], cloth, "cloth")
    canvas.rectangle((cx - 0.45 * fw, cy + 0.6 * fh, cx + 0.45 * fw, shoulders_y + 2 * scale), _shade(skin, 0.88), "neck")

    # Hair behind the face: the back of the head, and for long hair the sides down to the shoulders.
    head_top = cy - fh - 4 * scale
    hair_bottom = cy + (fh + 8 * scale if long_hair else 0.2 * fh)
    back = [(cx - fw - 3.5 * scale, cy - 0.3 * fh), (cx - fw - 3.5 * scale, hair_bottom),
            (cx + fw + 3.5 * scale, hair_bottom), (cx + fw + 3.5 * scale, cy - 0.3 * fh)]
    canvas.polygon(back, hair, "hair")
    canvas.ellipse((cx - fw - 3.5 * scale, head_top, cx + fw + 3.5 * scale, cy + 0.6 * fh), hair, "hair")
    if spec.hair_style == "curly":
        for k in range(22):
            t = math.pi * (0.95 + 1.1 * k / 21)
            r = rng.uniform(3.0, 4.2) * scale
            x = cx + (fw + 3.5 * scale) * math.cos(t)
            y = cy - 0.1 * fh + (fh + 4 * scale) * math.sin(t) * (1.0 if math.sin(t) < 0 else 0.0)
            canvas.ellipse((x - r, y - r, x + r, y + r), _shade(hair, rng.uniform(0.8, 1.15)), "hair")
        for side in (-1, 1):
            for k in range(6):
                y = cy - 0.2 * fh + k * (hair_bottom - cy + 0.2 * fh) / 5
                r = rng.uniform(2.8, 3.8) * scale
                x = cx + side * (fw + 2.5 * scale)
                canvas.ellipse((x - r, y - r, x + r, y + r), _shade(hair, rng.uniform(0.8, 1.15)), "hair")

    # Ears, face, nose.
    for side, label in ((-1, "r_ear"), (1, "l_ear")):
        ex = cx + side * fw * 0.97
        canvas.ellipse((ex - 3 * scale, cy - 4 * scale, ex + 3 * scale, cy + 4 * scale), _shade(skin, 0.93), label)
    canvas.polygon(_face_outline(cx, cy, fw, fh, person.jaw), skin, "skin")

    eye_y = cy - 0.08 * fh
    nose_top = eye_y + 2 * scale
    nose_tip = eye_y + (3 + 22 * person.nose_length) * scale
    nw = (1.5 + 12 * person.nose_width) * scale
    canvas.polygon([(cx, nose_top), (cx - nw, nose_tip), (cx + nw, nose_tip)], _shade(skin, 0.82), "nose")

    # Fringe over the forehead.
    fringe_y = cy - 0.5 * fh
    fringe = [(cx + (fw + 1.5 * scale) * math.cos(t), cy - 0.15 * fh + (fh + 3 * scale) * math.sin(t))
              for t in np.linspace(math.pi * 1.02, math.pi * 1.98, 24)]
    if fringe[0][1] > fringe_y:
        fringe = [(x, min(y, fringe_y)) for x, y in fringe]
    canvas.polygon(fringe + [(cx + fw * 0.9, fringe_y), (cx - fw * 0.9, fringe_y)], hair, "hair")
    if spec.hair_style == "curly":
        for k in range(9):
            x = cx - 0.85 * fw + k * 1.7 * fw / 8
            r = rng.uniform(2.4, 3.2) * scale
            canvas.ellipse((x - r, fringe_y - r, x + r, fringe_y + r), _shade(hair, rng.uniform(0.8, 1.15)), "hair")

    # Eyes and brows.
    ew, eh = 3.6 * person.eye_size * scale, 2.2 * person.eye_size * scale
    for side, eye_label, brow_label in ((-1, "r_eye", "r_brow"), (1, "l_eye", "l_brow")):
        ex = cx + side * person.eye_spacing * fw
        canvas.ellipse((ex - ew, eye_y - eh, ex + ew, eye_y + eh), (245, 245, 240), eye_label)
        iris = 1.6 * person.eye_size * scale
        canvas.ellipse((ex - iris, eye_y - iris, ex + iris, eye_y + iris), (40, 30, 30), eye_label)
        by = eye_y - eh - 2.5 * scale
        canvas.line([(ex - ew * 1.1, by + 0.6 * scale), (ex, by - 0.6 * scale), (ex + ew * 1.1, by + 0.6 * scale)],
                    _shade(hair, 0.7), max(2, int(1.4 * scale)), brow_label)

    _draw_mouth(canvas, spec.expression, cx, cy + 0.55 * fh, scale, skin)
    _draw_glasses(canvas, spec.glasses, cx, eye_y, person.eye_spacing * fw, ew, scale, rng)
    if spec.hat == "hat":
        colour = tuple(int(v) for v in rng.integers(20, 236, 3))
        if hat_rgb is not None:
            colour = tuple(int(v) for v in hat_rgb)
        canvas.ellipse((cx - fw - 5 * scale, head_top - 5 * scale, cx + fw + 5 * scale, cy - 0.25 * fh), colour, "hat")
        brim_y = cy - 0.5 * fh
        canvas.rectangle((cx - fw - 8 * scale, brim_y - 3 * scale, cx + fw + 8 * scale, brim_y + 0.5 * scale),
                         _shade(colour, 0.8), "hat")

    image = canvas.image.resize((size, size), Image.LANCZOS)
    labels = np.asarray(canvas.labels.resize((size, size), Image.NEAREST), dtype=np.uint8)
    return Drawing(image=image, labels=labels.copy(), caption=caption_for(spec), spec=spec, seed=int(seed))


def _draw_mouth(canvas: _Canvas, expression: str, cx, my, scale, skin):
    lip = _shade((200, 90, 90), 1.0)
    mw = 6.0 * scale
    if expression == "neutral":
        canvas.ellipse((cx - mw, my - 1.3 * scale, cx + mw, my + 0.2 * scale), _shade(lip, 0.9), "u_lip")
        canvas.ellipse((cx - mw * 0.9, my - 0.1 * scale, cx + mw * 0.9, my + 1.6 * scale), lip, "l_lip")
    elif expression == "smiling":
        wide = mw * 1.3
        upper = [(cx + wide * x, my - 2.0 * scale * (1 - x * x) * 0.3 - 1.5 * scale * x * x) for x in np.linspace(-1, 1, 13)]
        lower = [(cx + wide * x, my + 3.2 * scale * (1 - x * x) - 1.5 * scale * x * x) for x in np.linspace(1, -1, 13)]
        canvas.polygon(upper + lower, lip, "l_lip")
        teeth = [(cx + wide * 0.8 * x, my + 1.6 * scale * (1 - x * x) - 0.9 * scale * x * x) for x in np.linspace(1, -1, 11)]
        canvas.polygon(upper[2:-2] + teeth, (250, 250, 245), "mouth")
    else:  # surprised: a round open mouth
        ow, oh = 3.6 * scale, 4.4 * scale
        canvas.ellipse((cx - ow, my - oh, cx + ow, my + oh), lip, "u_lip")
        canvas.ellipse((cx - ow + 1.3 * scale, my - oh + 1.3 * scale, cx + ow - 1.3 * scale, my + oh - 1.3 * scale),
                       (70, 20, 25), "mouth")


def _draw_glasses(canvas: _Canvas, glasses: str, cx, ey, offset, ew, scale, rng):
    if glasses == "none":
        return
    frame = tuple(int(v) for v in rng.integers(10, 90, 3))
    r = max(ew * 1.35, 4.6 * scale)
    width = max(2, int(1.2 * scale))
    for side in (-1, 1):
        ex = cx + side * offset
        box = (ex - r, ey - r * (0.85 if glasses == "sunglasses" else 1.0), ex + r, ey + r * 0.85)
        if glasses == "sunglasses":
            canvas.ellipse(box, (25, 25, 30), "eye_g", outline=frame, width=width)
        else:
            canvas.rgb.ellipse(box, outline=frame, width=width)
            canvas.lab.ellipse(box, fill=LABEL["eye_g"])
    canvas.line([(cx - offset + r, ey), (cx + offset - r, ey)], frame, width, "eye_g")
