"""The cure on real photos: detected faces are cropped, cured, pasted back and checked for identity.

The detector is a tiny ONNX graph with constant outputs, loaded through insightface's own routing
(face_fixtures.py), so the faces on the astronaut portrait are known in advance.
"""

from __future__ import annotations

import numpy as np
import pytest

from cure_fixtures import FixedRegionParser
from face_fixtures import ASTRONAUT_FACE, SHUTTLE_FACE, astronaut, face_packs, load_analyzer, write_pack  # noqa: F401
from freecure_edit import CureConfig, FreeCure
from freecure_edit.errors import InputImageError

STEPS = 4
# Regions as fractions of the face crop: hair above the face, the face in the middle.
CROP_REGIONS = {"hair": (0.2, 0.1, 0.8, 0.35), "skin": (0.3, 0.35, 0.7, 0.75)}


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.fixture
def curer(load_tiny, face_packs, load_analyzer):
    def make(pack=None):
        analyzer = load_analyzer(pack or face_packs.two_faces)
        return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(CROP_REGIONS), face_analyzer=analyzer)
    return make


def changed_mask(result, photo) -> np.ndarray:
    return np.abs(pixels(result.image) - pixels(photo)).max(axis=-1) > 0


def inside_box(mask: np.ndarray, box, grow: float) -> np.ndarray:
    x0, y0, x1, y1 = box
    size = x1 - x0
    region = np.zeros_like(mask)
    region[max(0, int(y0 - grow * size)):int(y1 + grow * size), max(0, int(x0 - grow * size)):int(x1 + grow * size)] = True
    return region


def test_the_largest_face_is_cured_and_the_rest_of_the_photo_is_untouched(curer):
    photo = astronaut()
    result = curer().cure(photo, "a woman with black curly hair", CureConfig(steps=STEPS))

    changed = changed_mask(result, photo)
    assert changed.any()
    # Crop margin 0.6 face sizes each side, plus the feather: nothing changes beyond that square.
    assert not (changed & ~inside_box(changed, ASTRONAUT_FACE.box, 0.7)).any()
    assert [face["index"] for face in result.faces] == [0]
    assert result.image.size == photo.size


def test_each_of_several_faces_is_cured_exactly_once(curer):
    photo = astronaut()
    fc = curer()
    result = fc.cure(photo, "a woman with black curly hair", CureConfig(steps=STEPS, faces="all"))

    assert sorted(face["index"] for face in result.faces) == [0, 1]
    assert fc.parser.calls == 4, "two parses (photo and foundation image) per face, once each"
    changed = changed_mask(result, photo)
    near_faces = inside_box(changed, ASTRONAUT_FACE.box, 0.7) | inside_box(changed, SHUTTLE_FACE.box, 0.7)
    assert not (changed & ~near_faces).any()
    assert (changed & inside_box(changed, SHUTTLE_FACE.box, 0.7)).any()


def test_an_expression_only_prompt_changes_the_face(curer):
    photo = astronaut()
    result = curer().cure(photo, "a woman laughing happily", CureConfig(steps=STEPS))

    changed = changed_mask(result, photo)
    assert (changed & inside_box(changed, ASTRONAUT_FACE.box, 0.0)).sum() > 100


def test_identity_is_reported_and_low_identity_is_retried(curer):
    photo = astronaut()
    config = CureConfig(steps=STEPS, min_identity=1.0, identity_retries=2)

    result = curer().cure(photo, "a woman with black curly hair", config)

    assert result.attempts == 3
    assert result.below_threshold
    assert -1.0 <= result.identity_similarity < 1.0
    assert any("below 1.0 after 3 attempts" in warning for warning in result.warnings)


def test_a_reachable_identity_threshold_is_met_without_retries(curer):
    result = curer().cure(astronaut(), "a woman with black curly hair", CureConfig(steps=STEPS, min_identity=-1.0))
    assert result.attempts == 1 and not result.below_threshold


def test_no_face_is_a_clear_error_that_suggests_no_detect(curer, tmp_path):
    empty_pack = write_pack(tmp_path / "buffalo_l", [])
    with pytest.raises(InputImageError, match="--no-detect"):
        curer(empty_pack).cure(astronaut(), "a woman with black curly hair", CureConfig(steps=STEPS))


def test_no_detect_cures_the_whole_image(curer):
    photo = astronaut()
    result = curer().cure(photo, "a woman with black curly hair", CureConfig(steps=STEPS, detect=False))
    assert result.faces == []
    assert result.identity_similarity is None


def test_a_mask_painted_on_the_photo_follows_the_face_crop(curer):
    from freecure_edit import CureCallbacks

    photo = astronaut()
    painted = np.zeros((512, 512), dtype=np.float32)
    x0, y0, x1, y1 = (int(v) for v in ASTRONAUT_FACE.box)
    painted[y0:y1, x0:(x0 + x1) // 2] = 1.0  # the left half of her face only

    result = curer().cure(photo, "a woman with black curly hair", CureConfig(steps=STEPS, paste_feather_px=0),
                          callbacks=CureCallbacks(on_masks=lambda context: {"hair": context.from_photo(painted)}))

    changed = changed_mask(result, photo)
    assert changed[y0 + 4:y1 - 4, x0 + 4:(x0 + x1) // 2 - 4].mean() > 0.5
    # The tiny model cures a 64-px crop of this 264-px region: one crop pixel is about 4 photo pixels,
    # and the mask goes through two interpolations (into the crop and back).
    reach = 10
    outside = np.ones_like(changed)
    outside[y0 - reach:y1 + reach, x0 - reach:(x0 + x1) // 2 + reach] = False
    assert not (changed & outside).any()
