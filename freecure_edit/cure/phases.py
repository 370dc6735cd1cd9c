"""The phases a cure goes through, in order, with the step counts they report to `progress(phase, done,
total)`, and their names for a display: what a progress display (the command line's bars, a web
page's) needs before the first report comes."""

from __future__ import annotations

from freecure_edit.cure.config import CureConfig
from freecure_edit.cure.pass_plan import photo_pass_plan
from freecure_edit.prompts import ParsedPrompt

PHASE_LABELS = {
    "inversion": "inverting the photo",
    "generation": "PD and FD generation",
    "fasa-generation": "FASA on the generation",
    "foundation": "foundation branch",
    "masks": "attribute masks",
    "sam": "SAM refinement",
    "fasa": "FASA on the photo",
    "rofa": "ROFA on the photo",
    "apg": "APG re-inversion",
    "paste": "pasting back",
}


def phase_plan(config: CureConfig, parsed: ParsedPrompt) -> list[tuple[str, int]]:
    """The phases a cure goes through, in order, with the step counts they report."""
    steps = config.steps
    plan = [("inversion", 2 * steps if config.inversion == "null-text" else steps), ("foundation", steps),
            ("masks", 1)]
    if config.refine == "sam":
        plan.append(("sam", 1))
    photo_pass = photo_pass_plan(config, parsed, exact=config.inversion == "exact")
    plan.append((config.method, photo_pass.branch_from))  # steps after the APG branch report as "apg"
    if photo_pass.apg_steps:
        # A re-inversion reports its inversion steps, then its denoising steps.
        plan.append(("apg", photo_pass.apg_steps * (2 if config.apg == "reinvert" else 1)))
    plan.append(("paste", 1))
    return plan
