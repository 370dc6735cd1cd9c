"""The foundation branch's variants and the masks' source (issue 27, item 4): fd_start, fd_noise and
fd_seed, mask_source. Their defaults are today's cure bit for bit; each variant does what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.errors import ConfigurationError
from freecure_edit.inversion import Inversion

HAIR = "a man with black curly hair"
STEPS = 4
# The authors' cure: FD from z_T, and FASA alone carries it in (SD 1.x photos default to fd_start 0.2 and
# fd_blend 1 since the toy world's table; these tests are about the code path of before).
PAPER = {"fd_start": 0.0, "fd_blend": 0.0}


@pytest.fixture
def fc(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


class FoundationInputs:
    """The latents the foundation branch predicts at, step by step: the calls with its (full) prompt."""

    def __init__(self, monkeypatch, prompt: str = HAIR):
        self.latents: list[tuple[int, torch.Tensor]] = []
        original = Inversion.predict_noise

        def recording(inversion, i, z, pair, *args, **kwargs):
            if pair.prompt == prompt:
                self.latents.append((i, z.detach().clone()))
            return original(inversion, i, z, pair, *args, **kwargs)

        monkeypatch.setattr(Inversion, "predict_noise", recording)

    def take(self) -> list[torch.Tensor]:
        taken = [z for _, z in self.latents]
        self.latents.clear()
        return taken


def the_inversion(fc):
    (inversion,) = fc._inversions.values()
    return inversion


def outputs(result) -> tuple:
    return (np.asarray(result.image), np.asarray(result.fd_image),
            {name: np.asarray(mask) for name, mask in result.masks.items()})


def assert_same(first, second):
    image, fd_image, masks = first
    assert np.array_equal(image, second[0]) and np.array_equal(fd_image, second[1])
    assert masks.keys() == second[2].keys() and all(np.array_equal(masks[k], second[2][k]) for k in masks)


@pytest.mark.parametrize("method", ["fasa", "rofa"])
def test_the_defaults_given_explicitly_are_the_cure_of_before(fc, photo, method):
    """fd_seed is read only by fresh noise, so another seed changes nothing at the defaults."""
    source = photo(64, 64)
    default = fc.cure(source, HAIR, CureConfig(steps=STEPS, method=method, **PAPER))
    for explicit in ({"fd_start": 0.0, "fd_blend": 0.0, "fd_noise": "inverted", "fd_seed": 0, "mask_source": "both"},
                     {"fd_seed": 7, **PAPER}):
        fc.forget_inversions()  # so that each cure pays for its own and the counts compare
        again = fc.cure(source, HAIR, CureConfig(steps=STEPS, method=method, **explicit))
        assert_same(outputs(default), outputs(again))
        assert again.warnings == default.warnings and again.stats.evaluations == default.stats.evaluations


def test_at_the_defaults_fd_steps_on_its_own_from_z_t_as_before(fc, photo, monkeypatch):
    """The code path before these knobs: FD predicts at z_T, then at each step at the latent its own
    corrected step gave (comparing defaults with defaults given explicitly cannot see a change of both)."""
    from freecure_edit.inversion import ExactInversion

    inputs = FoundationInputs(monkeypatch)
    steps_taken = []
    original = ExactInversion.next_latent

    def recording(inversion, i, z, noise, pair, guidance, release=None):
        z_next = original(inversion, i, z, noise, pair, guidance, release=release)
        steps_taken.append(z_next)
        return z_next

    monkeypatch.setattr(ExactInversion, "next_latent", recording)
    fc.cure(photo(64, 64), HAIR, CureConfig(steps=STEPS, **PAPER))
    predicted_at = inputs.take()

    assert torch.equal(predicted_at[0], the_inversion(fc).zT)
    for i in range(1, STEPS):  # the foundation's steps come first: the photo branch's follow
        assert torch.equal(predicted_at[i], steps_taken[i - 1]), f"step {i} starts where step {i - 1} ended"


@pytest.mark.parametrize("inversion", ["exact", "ddim"])
def test_fd_start_keeps_the_photos_trajectory_until_step_k(fc, photo, monkeypatch, inversion):
    inputs = FoundationInputs(monkeypatch)
    source = photo(64, 64)
    fc.cure(source, HAIR, CureConfig(steps=STEPS, inversion=inversion, fd_start=0.0))
    default = inputs.take()
    fc.cure(source, HAIR, CureConfig(steps=STEPS, inversion=inversion, fd_start=0.5))
    shared = inputs.take()
    trajectory = the_inversion(fc).latents

    assert len(shared) == len(default) == STEPS, "the foundation still predicts at every step"
    k = round(0.5 * STEPS)
    for i in range(k + 1):
        assert torch.equal(shared[i], trajectory[i]), f"step {i} is the photo's own latent"
    assert not torch.equal(shared[k + 1], trajectory[k + 1]), "from step k it follows the prompt"
    assert torch.equal(default[0], trajectory[0]) and not torch.equal(default[1], trajectory[1])


def test_fd_start_changes_the_foundation_and_warns_only_when_it_leaves_no_step(fc, photo, monkeypatch):
    source = photo(64, 64)
    default = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_start=0.0))
    later = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_start=0.5))
    assert not np.array_equal(np.asarray(later.fd_image), np.asarray(default.fd_image))
    assert not any("fd_start" in warning for warning in later.warnings)

    whole = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_start=0.9))  # round(3.6) = 4 of 4 steps
    assert any("fd_start 0.9 rounds to all 4 steps" in warning for warning in whole.warnings)


def test_fresh_noise_is_the_seeds_and_warns_that_the_layout_is_its_own(fc, photo, monkeypatch):
    from freecure_edit.cure.foundation import fresh_noise

    inputs = FoundationInputs(monkeypatch)
    source = photo(64, 64)
    results = {}
    for seed in (0, 0, 1):
        results.setdefault(seed, []).append(fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh",
                                                                             fd_seed=seed)))
        first = inputs.take()[0]
        assert torch.equal(first, fresh_noise(the_inversion(fc).zT, seed))
    (a, b), (c,) = results[0], results[1]
    assert_same(outputs(a), outputs(b))
    assert not np.array_equal(np.asarray(a.fd_image), np.asarray(c.fd_image))
    assert not torch.equal(fresh_noise(the_inversion(fc).zT, 0), the_inversion(fc).zT)
    (warning,) = [w for w in a.warnings if w.startswith("fd_noise 'fresh'")]
    assert "fd_seed 0" in warning and "laid out on its own" in warning and "not used" in warning
    assert "mask_source 'both'" in warning
    quiet = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh", mask_source="fd", fd_corrections=False))
    (warning,) = [w for w in quiet.warnings if w.startswith("fd_noise")]
    assert "mask_source" not in warning and "not used" not in warning


def test_fresh_noise_samples_without_corrections_and_says_so_once(fc, photo):
    """The corrections belong to the photo's trajectory: fresh noise with or without them is the same
    foundation image, and neither the ddim nor the fd_mask_corrections warning repeats the fresh one."""
    source = photo(64, 64)
    with_flag = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh"))
    without = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh", fd_corrections=False))
    assert np.array_equal(np.asarray(with_flag.fd_image), np.asarray(without.fd_image))
    ddim = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh", inversion="ddim"))
    assert not any("fd_corrections needs" in warning for warning in ddim.warnings)
    explicit = fc.cure(source, HAIR, CureConfig(steps=STEPS, fd_noise="fresh", fd_mask_corrections=0.5))
    assert any("fd_mask_corrections needs" in warning for warning in explicit.warnings)


class TwoImageParser(FixedRegionParser):
    """The photo's parse is `photo_regions`, the foundation image's `fd_regions`: each cure parses the
    photo first, then the foundation image (pipeline step 3)."""

    def __init__(self, photo_regions, fd_regions):
        super().__init__(photo_regions)
        self.both = (photo_regions, fd_regions)

    def _parse_rgb(self, image):
        self.regions = self.both[self.calls % 2]
        return super()._parse_rgb(image)


SKIN = {"skin": HAIR_ON_TOP["skin"]}


def mask_of(load_tiny, photo, photo_regions, fd_regions, prompt=HAIR, **settings):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=TwoImageParser(photo_regions, fd_regions))
    result = fc.cure(photo(64, 64), prompt, CureConfig(steps=2, **settings))
    name = next(name for name in result.masks if name not in ("union", "paste"))
    return float(np.asarray(result.masks[name]).max()), result.warnings


@pytest.mark.parametrize("hair_in, source, found", [
    # The parser finds the hair in the foundation image only: "photo" ignores that parse.
    ("fd", "both", True), ("fd", "fd", True), ("fd", "photo", False),
    # ... in the photo only: "fd" ignores the photo's parse.
    ("photo", "both", True), ("photo", "photo", True), ("photo", "fd", False),
])
def test_mask_source_reads_only_the_parse_it_names(load_tiny, photo, hair_in, source, found):
    regions = (SKIN, HAIR_ON_TOP) if hair_in == "fd" else (HAIR_ON_TOP, SKIN)
    peak, warnings = mask_of(load_tiny, photo, *regions, mask_source=source)
    assert (peak > 0) == found
    empty = [warning for warning in warnings if "the mask of 'hair'" in warning]
    assert bool(empty) != found
    if empty:
        where = "the photo" if source == "photo" else "the foundation image"
        assert empty[0].endswith(f"found no hair in {where}")


@pytest.mark.parametrize("source", ["both", "photo", "fd"])
def test_a_removals_mask_is_the_photos_under_every_source(load_tiny, photo, source):
    glasses = {**SKIN, "eye_g": (0.3, 0.4, 0.7, 0.5)}
    peak, _ = mask_of(load_tiny, photo, glasses, SKIN, prompt="a man without glasses", mask_source=source)
    assert peak > 0


@pytest.mark.parametrize("settings, message", [
    ({"fd_start": 1.0}, "fd_start must be at least 0 and below 1"),
    ({"fd_start": -0.1}, "fd_start must be at least 0 and below 1"),
    ({"fd_noise": "gaussian"}, "unknown fd_noise 'gaussian'"),
    ({"fd_seed": -1}, "fd_seed must be a whole number"),
    ({"fd_seed": 1.5}, "fd_seed must be a whole number"),
    ({"mask_source": "parser"}, "unknown mask_source 'parser'"),
    ({"fd_start": 0.3, "fd_noise": "fresh"}, "fd_start shares the photo's trajectory"),
])
def test_bad_values_are_refused_in_one_line(settings, message):
    with pytest.raises(ConfigurationError, match=message) as refused:
        CureConfig(**settings)
    assert "\n" not in str(refused.value)


def test_the_variants_are_settings_as_data():
    """A worker request or a prompts file names them as the command line does."""
    from freecure_edit.errors import ConfigurationError as Refused
    from freecure_edit.overrides import read_overrides

    read = read_overrides({"fd-start": "0.4", "fd-seed": "3", "mask-source": "fd"}, "test")
    assert read.config == {"fd_start": 0.4, "fd_seed": 3, "mask_source": "fd"}
    assert read_overrides({"fd_noise": "fresh"}, "test").config == {"fd_noise": "fresh"}
    with pytest.raises(Refused, match="mask_source"):
        read_overrides({"mask_source": "parser"}, "test")
