"""Cancelling a cure from another thread or a callable: it stops after the step in hand, restores the
model and leaves the inversion cache consistent, so the next cure is the one a fresh process gives."""

from __future__ import annotations

import threading

import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureCallbacks, CureConfig, FreeCure
from freecure_edit.attention.processor import ControlledAttnProcessor
from freecure_edit.errors import CureCancelled, FreeCureError

STEPS = 4
PROMPT = "a man with black curly hair, smiling"  # hair for FASA, the smile for APG


def new_cure(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


_FRESH: dict[str, bytes] = {}


def fresh_cure(load_tiny, source, config) -> bytes:
    """The image a new FreeCure gives, once per APG mode."""
    if config.apg not in _FRESH:
        _FRESH[config.apg] = new_cure(load_tiny).cure(source, PROMPT, config).image.tobytes()
    return _FRESH[config.apg]


def processor_types(fc):
    return {name: type(processor) for name, processor in fc.pipe.unet.attn_processors.items()}


@pytest.mark.parametrize("phase, apg", [("inversion", "branch"), ("foundation", "branch"), ("fasa", "branch"),
                                        ("apg", "branch"), ("apg", "reinvert")])
def test_a_cure_cancelled_after_a_step_stops_there(load_tiny, photo, phase, apg):
    fc = new_cure(load_tiny)
    originals = processor_types(fc)
    cancel = threading.Event()
    seen = []

    def on_step(step):
        seen.append((step.phase, step.step))
        if (step.phase, step.step) == (phase, 2):
            cancel.set()

    source = photo(64, 64)
    config = CureConfig(steps=STEPS, apg=apg)
    with pytest.raises(CureCancelled) as raised:
        fc.cure(source, PROMPT, config, callbacks=CureCallbacks(on_step=on_step), cancel=cancel)

    assert isinstance(raised.value, FreeCureError) and raised.value.exit_code == 130
    assert seen[-1] == (phase, 2), "no step runs after the one that saw the cancel"
    assert processor_types(fc) == originals
    assert ControlledAttnProcessor not in processor_types(fc).values()
    if phase == "inversion":
        assert not fc._inversions, "a half-made inversion is not cached"

    again = fc.cure(source, PROMPT, config)
    assert again.image.tobytes() == fresh_cure(load_tiny, source, config)


def test_a_callable_cancels_between_phases(load_tiny, photo):
    fc = new_cure(load_tiny)
    asked = {"stop": False}
    seen = []

    def stop_at_masks(context):
        asked["stop"] = True
        return None

    callbacks = CureCallbacks(on_step=lambda step: seen.append(step.phase), on_masks=stop_at_masks)
    with pytest.raises(CureCancelled):
        fc.cure(photo(64, 64), PROMPT, CureConfig(steps=STEPS), callbacks=callbacks, cancel=lambda: asked["stop"])
    assert "fasa" not in seen and "foundation" in seen


def test_a_cancel_that_is_never_set_changes_nothing(load_tiny, photo):
    source, config = photo(64, 64), CureConfig(steps=STEPS)
    watched = new_cure(load_tiny).cure(source, PROMPT, config, cancel=threading.Event())
    assert watched.image.tobytes() == fresh_cure(load_tiny, source, config)


def test_a_cancel_hook_must_be_an_event_or_a_callable(load_tiny, photo):
    with pytest.raises(TypeError, match="cancel"):
        new_cure(load_tiny).cure(photo(64, 64), PROMPT, CureConfig(steps=STEPS), cancel=True)
