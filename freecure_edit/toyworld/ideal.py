"""The distance of an edit to the ideal edit, which only a toy world can measure: the world redraws the
same person, pose and background with the asked attributes, so the right answer is known pixel for pixel.

    ideal = ideal_edit(drawing, "a photo of a man with red hair")
    distance_to_ideal(output, drawing, ideal)
    # {"ideal_mae_in": 31.2, "ideal_mae_out": 2.1, "ideal_ssim_in": 0.41, "ideal_ssim_out": 0.97}

Each measure is taken twice: inside the region the edit should change (`edit_region`: where the
redraw's labels or colours differ from the drawing's) and outside it, where the ideal is the drawing
itself.
MAE is the mean absolute error in 8-bit levels (0 is the ideal); SSIM is scikit-image's structural
similarity (1 is the ideal), which a smear loses even where its colours are about right. A judge that
reads "red hair" off a red blur cannot tell the two apart; these can.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from freecure_edit.toyworld.world import LABEL, Drawing, draw

DISTANCE_NAMES = ("ideal_mae_in", "ideal_mae_out", "ideal_ssim_in", "ideal_ssim_out")
# Drawings are painted at twice their size and shrunk with Lanczos, while the label map is shrunk by
# nearest neighbour. So a drawn edge can sit a pixel off its labels, and its blended edge pixels belong
# to the edit: inside is the changed region grown by 1 px.
INSIDE_DILATION_PX = 1
# Lanczos's kernel reaches 3 px of the small image, so a shape that changes also moves pixels up to 3 px
# beyond the changed region, by a few levels. Outside starts 3 px away, where the drawing and its ideal
# are the same pixels: on the toy experiment's edits (seeds 0-2, 72 edits) they differ there by nothing,
# by up to 1 level at 2 px and 7 at 1 px. The ring between inside and outside is counted in neither:
# resampling, not the edit, decides it.
OUTSIDE_MARGIN_PX = 3
# A pixel whose label stays changed colour where it moved by more than this (8-bit levels, largest
# channel): hair gone red, brows drawn in the hair's new shade, and a new shape's blended edge where the
# nearest-neighbour label map still says background. The world jitters a colour by up to 10 levels; its
# named colours lie much further apart.
COLOUR_CHANGE_LEVELS = 16.0


def ideal_edit(drawing: Drawing, prompt: str) -> Drawing:
    """`drawing` redrawn with what `prompt` asks (in the world's wording, as the judges read it), from
    the same seed and at the same size."""
    from freecure_edit.toyworld.judges import asked_attributes

    if drawing.seed is None:
        raise ValueError("the drawing has no seed, so the world cannot redraw it")
    spec = drawing.spec.with_changes(**asked_attributes(prompt))
    return draw(spec, drawing.seed, drawing.image.width)


def edit_region(original: Drawing, ideal: Drawing, dilation_px: int = INSIDE_DILATION_PX) -> np.ndarray:
    """Where the ideal edit changes the drawing (bool, height x width): the pixels whose label changes
    and those whose colour changes (see COLOUR_CHANGE_LEVELS), dilated by `dilation_px`."""
    from scipy import ndimage

    before = np.asarray(original.image.convert("RGB"), dtype=np.float64)
    after = np.asarray(ideal.image.convert("RGB"), dtype=np.float64)
    region = (original.labels != ideal.labels) | (np.abs(before - after).max(axis=2) > COLOUR_CHANGE_LEVELS)
    if dilation_px > 0:
        # A square, as the resampling kernel is separable: its reach is the same along the diagonal.
        square = np.ones((2 * dilation_px + 1,) * 2, dtype=bool)
        region = ndimage.binary_dilation(region, structure=square)
    return region


def distance_to_ideal(output: Image.Image, original: Drawing, ideal: Drawing) -> dict[str, float | None]:
    """MAE and SSIM of `output` to `ideal` inside the edit region and outside it (see the constants);
    None for a side with no pixel (a prompt that asks for nothing new has no inside). A hat the edit
    adds is compared in the output's own colour (`with_hat_colour_of`)."""
    image = output.convert("RGB")
    if image.size != ideal.image.size:
        image = image.resize(ideal.image.size, Image.LANCZOS)
    made = np.asarray(image, dtype=np.float64)
    ideal = with_hat_colour_of(made, original, ideal)
    inside = edit_region(original, ideal, INSIDE_DILATION_PX)
    outside = ~edit_region(original, ideal, OUTSIDE_MARGIN_PX)
    target = np.asarray(ideal.image.convert("RGB"), dtype=np.float64)
    distances: dict[str, float | None] = {}
    for side, pixels in (("in", inside), ("out", outside)):
        if not pixels.any():
            distances[f"ideal_mae_{side}"] = distances[f"ideal_ssim_{side}"] = None
            continue
        distances[f"ideal_mae_{side}"] = float(np.abs(made - target)[pixels].mean())
        # SSIM's 7 px windows straddle the region's border: judged with the other side set to the ideal,
        # a window sees only this side's errors, so an edit is not blamed outside for its inside.
        mixed = np.where(pixels[..., None], made, target)
        distances[f"ideal_ssim_{side}"] = float(_ssim_map(mixed, target)[pixels].mean())
    return distances


def with_hat_colour_of(made: np.ndarray, original: Drawing, ideal: Drawing) -> Drawing:
    """The ideal redrawn with its new hat in the output's colour: the world picks a hat's colour from the
    seed, and no prompt names it, so any colour is the asked hat. Measured against the seed's colour, a
    clean hat of another colour sat 60-70 levels from the ideal, as far as no hat at all. The colour is
    the output's median over the ideal hat's pixels; an output without a hat gets a "hat" in whatever it
    shows there (hair, skin, background), which still differs from it in shape, so it does not score as
    a hat. A hat the drawing already wears is left as drawn."""
    if ideal.spec.hat != "hat" or original.spec.hat == "hat" or ideal.seed is None:
        return ideal
    hat = ideal.labels == LABEL["hat"]
    if not hat.any():
        return ideal
    colour = tuple(int(round(v)) for v in np.median(made[hat], axis=0))
    return draw(ideal.spec, ideal.seed, ideal.image.width, hat_rgb=colour)


def _ssim_map(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """SSIM per pixel (height x width), the mean over the colour channels."""
    from skimage.metrics import structural_similarity

    _, full = structural_similarity(image, reference, channel_axis=2, data_range=255.0, full=True)
    return full.mean(axis=2)


__all__ = ["COLOUR_CHANGE_LEVELS", "DISTANCE_NAMES", "INSIDE_DILATION_PX", "OUTSIDE_MARGIN_PX", "distance_to_ideal",
           "edit_region", "ideal_edit", "with_hat_colour_of"]
