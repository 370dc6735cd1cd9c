"""The cost model behind the time estimate counts exactly the evaluations a cure spends, and the
progress display's plan matches what the cure reports."""

from __future__ import annotations

import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.cure.estimate import Estimate, estimate_line, expected_evaluations, format_duration
from freecure_edit.cure.phases import phase_plan
from freecure_edit.prompts import parse_prompt

HAIR = "a man with black curly hair"
HAIR_AND_SMILE = "a man with black curly hair, smiling"
CASES = [
    (HAIR_AND_SMILE, dict(steps=3)),
    (HAIR, dict(steps=3, pd_guidance=1.0)),
    (HAIR, dict(steps=2, inversion="ddim")),
    (HAIR_AND_SMILE, dict(steps=4, inversion="negative-prompt", apg="reinvert", gamma=0.5)),
    (HAIR_AND_SMILE, dict(steps=3, guidance=1.0, apg="reinvert", gamma=1.0, strength=0.7)),
    (HAIR, dict(steps=3, method="rofa", rofa_start=0.34)),
    # The foundation branch's variants (issue 27) cost what the default does: it predicts at every step.
    (HAIR_AND_SMILE, dict(steps=3, fd_start=0.4)),
    (HAIR, dict(steps=3, inversion="ddim", fd_start=0.7)),
    (HAIR, dict(steps=3, fd_noise="fresh", fd_seed=1)),
    (HAIR, dict(steps=3, method="rofa", fd_noise="fresh", mask_source="fd")),
    (HAIR_AND_SMILE, dict(steps=3, mask_source="photo")),
    (HAIR, dict(steps=3, guidance=12.0, pd_guidance=7.5, fd_corrections=False)),
    # fd_blend starts the photo pass at step 0 even where FASA starts later.
    (HAIR_AND_SMILE, dict(steps=4, fd_blend=0.5, fasa_steps=(0.5, 1.0))),
]


@pytest.fixture(scope="module")
def tiny_cure(load_tiny):
    return FreeCure(load_tiny("sd"), parser=FixedRegionParser(HAIR_ON_TOP))


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_estimate_counts_the_evaluations_and_the_plan_the_progress(tiny_cure, photo, case):
    prompt, settings = CASES[case]
    config = CureConfig(**settings)
    reported = {}

    # A photo of its own per case, so that no case reuses another's cached inversion.
    result = tiny_cure.cure(photo(64, 64, seed=case), prompt, config,
                            progress=lambda phase, done, total: reported.__setitem__(phase, total))

    # Resolved as `fix` resolves it before estimating: the model fills in what the user left unset
    # (on SD 1.x photos fd_blend 1, which starts the photo pass at step 0).
    resolved = tiny_cure.resolve_config(config)
    estimate = expected_evaluations(resolved, parse_prompt(prompt))
    spent = {phase: count for phase, count in result.stats.evaluations.items() if count}
    assert estimate.evaluations == spent
    plan = dict(phase_plan(resolved, parse_prompt(prompt)))
    assert {phase: plan[phase] for phase in reported} == reported


def test_null_text_is_an_upper_bound(tiny_cure, photo):
    config = CureConfig(steps=2, inversion="null-text")

    result = tiny_cure.cure(photo(64, 64, seed=99), HAIR, config)

    estimate = expected_evaluations(config, parse_prompt(HAIR))
    assert estimate.upper_bound
    assert result.stats.total_evaluations <= estimate.total_evaluations
    assert result.stats.backward_passes <= estimate.backward_passes


def test_faces_and_retries_scale_the_estimate():
    config = CureConfig(steps=10, min_identity=0.5, identity_retries=3)
    one = expected_evaluations(config, parse_prompt(HAIR))
    three = expected_evaluations(config, parse_prompt(HAIR), faces=3)

    assert three.total_evaluations == 3 * one.total_evaluations
    assert one.retries == 3
    assert expected_evaluations(CureConfig(), parse_prompt("a man")).total_evaluations == 0


def test_the_estimate_line_is_evaluations_times_the_measured_evaluation():
    estimate = Estimate({"inversion": 22, "foundation": 20, "fasa": 20}, seconds_per_evaluation=2.0, retries=2)

    line = estimate_line(estimate, "cuda")

    assert "about 2 min 4 s" in line and "62 denoiser evaluations x 2.0 s" in line
    assert "up to 2 identity retries" in line


@pytest.mark.parametrize("seconds, text", [(0.05, "50 ms"), (3.21, "3.2 s"), (42, "42 s"), (125, "2 min 5 s"),
                                           (7260, "2 h 1 min")])
def test_durations_read_naturally(seconds, text):
    assert format_duration(seconds) == text
