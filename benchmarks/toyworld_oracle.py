"""Which step of the cure loses the ideal edit? The toy world's answers put in one step at a time (issue 27).

    python benchmarks/toyworld_oracle.py --photos 4 --seed 0 [--steps 15] [--dump s0.json] [--grid g.png]
    python benchmarks/toyworld_experiment.py --combine s0.json s1.json s2.json   # the seeds pooled

The world redraws every edit exactly, so each step of the cure can be handed the right answer in turn:

- the oracle foundation branch: FD follows the ideal edit's own exact inversion (inverted with FD's
  prompt and guidance, then denoised with them along its corrections), so the foundation image is the
  ideal edit through the autoencoder, and FASA reads the keys and values of a perfect foundation;
- the oracle masks: the region the ideal edit changes (`toyworld.ideal.edit_region`) replaces the
  parser's masks, through the cure's own `on_masks` callback.

Rows: FASA alone (fd_start 0, fd_blend 0, the SD 1.x photo defaults before this table), each oracle
alone, both, both with more weight on FD's keys (omega), and the foundation's latent put in inside the
mask for the first steps (`fd_blend`), with and without oracles, and with a foundation that shares the
photo's trajectory at first (`fd_start`; fd_blend 1 with fd_start 0.2 is the SD 1.x default since).
The ideal edit through the autoencoder ("FD alone, oracle FD") is the floor no latent method can pass:
it is what the toy autoencoder loses. Edits are `toyworld_experiment.family_cases` (one per family per drawing), and
the per-family table is the experiment's own, so `--combine` pools seeds of this script too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import toyworld_experiment as experiment  # noqa: E402

# (label, oracle FD, oracle masks, cure overrides, the foundation image instead of the cure)
VARIANTS = (
    ("cure, FASA alone (fd_start 0, fd_blend 0: the defaults before this table)", False, False, {}, False),
    ("FD alone, from z_T (fd_start 0)", False, False, {}, True),
    ("cure, oracle masks", False, True, {}, False),
    ("cure, oracle FD", True, False, {}, False),
    ("FD alone, oracle FD (the ideal edit through the autoencoder: the floor)", True, False, {}, True),
    ("cure, oracle FD and masks", True, True, {}, False),
    ("cure, oracle FD and masks, omega 3", True, True, {"omega": 3.0}, False),
    *[(f"cure, oracle FD and masks, fd_blend {share:g}", True, True, {"fd_blend": share}, False)
      for share in (0.5, 1.0)],
    *[(f"cure, fd_blend {share:g}", False, False, {"fd_blend": share}, False) for share in (0.5, 0.7, 0.85, 1.0)],
    # With the whole of FD carried in, a foundation nearer the photo, or at a lower guidance.
    ("cure, fd_blend 1 with fd_start 0.2", False, False, {"fd_blend": 1.0, "fd_start": 0.2}, False),
    ("cure, fd_blend 1 with FD guidance 3", False, False, {"fd_blend": 1.0, "guidance": 3.0, "pd_guidance": 7.5}, False),
    *[(f"cure, fd_blend 1 and fd_start {share:g}", False, False, {"fd_blend": 1.0, "fd_start": share}, False)
      for share in (0.3, 0.4)],
    ("cure, fd_blend 1 and fd_start 0.2, FD guidance 3", False, False,
     {"fd_blend": 1.0, "fd_start": 0.2, "guidance": 3.0, "pd_guidance": 7.5}, False),
)


@contextmanager
def oracle_foundation(ideal_image):
    """While open, every cure's foundation branch follows `ideal_image`'s exact inversion instead of
    the photo's: inverted with FD's prompt and guidance at the cure's steps, and replayed with every
    correction (nothing released), so that it ends at the ideal edit through the autoencoder."""
    from freecure_edit.cure import pipeline
    from freecure_edit.inversion import invert

    original = pipeline._foundation_pass

    def foundation_pass(inversion, controller, fd_pair, pd_pair, config, capture, fasa_steps, release, report):
        working = ideal_image.convert("RGB").resize(inversion.image_size)
        controller.passthrough()  # the inversion's attention, as the photo's was inverted
        # Inverted with FD's own prompt and guidance, so that FD's corrections pin it to this trajectory
        # (anchored on the photo's prompt they would only add FD's difference to it).
        oracle = invert(inversion.backbone, working, fd_pair.prompt, config.steps, config.guidance,
                        method="exact", negative_prompt=fd_pair.negative_prompt)
        own = replace(config, pd_guidance=config.guidance)
        return original(oracle, controller, fd_pair, oracle.prompt_pair, own, capture, fasa_steps, None, report)

    pipeline._foundation_pass = foundation_pass
    try:
        yield
    finally:
        pipeline._foundation_pass = original


def oracle_masks(region):
    """An `on_masks` callback that replaces every mask by the world's edit region (bool, H x W)."""
    from freecure_edit.cure.callbacks import CureCallbacks

    def exact_region(context):
        mask = torch.from_numpy(region.astype("float32"))
        if tuple(mask.shape) != tuple(context.masks["union"].shape):
            raise ValueError("the edit region and the cure's masks differ in size")
        return {**{name: mask for name in context.masks if name != "union"}, "union": mask}

    return CureCallbacks(on_masks=exact_region)


# The grid's columns after input and ideal: (heading, row label, the foundation image instead).
GRID_COLUMNS = (
    ("FD, from z_T", "cure, FASA alone (fd_start 0, fd_blend 0: the defaults before this table)", True),
    ("cure, FASA alone", "cure, FASA alone (fd_start 0, fd_blend 0: the defaults before this table)", False),
    ("oracle FD + masks", "cure, oracle FD and masks", False),
    ("... + fd_blend 1", "cure, oracle FD and masks, fd_blend 1", False),
    ("new default", "cure, fd_blend 1 with fd_start 0.2", False),
)


class Recording:
    """A method whose outputs (and foundation images) are kept per case, for the grid."""

    def __init__(self, method):
        self.method = method
        self.images: list = []
        self.fd_images: list = []

    def run(self, photo, prompt, seed):
        output = self.method.run(photo, prompt, seed)
        self.images.append(output.image)
        self.fd_images.append(output.fd_image)
        return output


def oracle_grid(all_cases, recorded: dict):
    """input | ideal | GRID_COLUMNS per edit, for the rows that ran."""
    from freecure_edit.evaluation.grid import edit_grid

    chosen = [(heading, label, fd) for heading, label, fd in GRID_COLUMNS if label in recorded]
    rows = []
    for n, case in enumerate(all_cases):
        cells = [case.drawing.image, case.ideal.image]
        for _, label, fd in chosen:
            cells.append((recorded[label].fd_images if fd else recorded[label].images)[n])
        rows.append((case.prompt, cells))
    return edit_grid(rows, columns=("input", "ideal", *[heading for heading, _, _ in chosen]), cell=128)


# The last cure, so that a cure row and its "FD alone" row (and the reference) share one run.
_RESULTS: dict = {}


class OracleCure:
    """One row of VARIANTS: the cure (or its foundation image) with the chosen oracles."""

    def __init__(self, freecure, base, all_cases, fd: bool, masks: bool, overrides: dict, fd_alone: bool):
        self.freecure, self.fd, self.masks, self.fd_alone = freecure, fd, masks, fd_alone
        self.config = base.with_changes(**overrides)
        self._cases = {(id(case.drawing.image), case.prompt): case for case in all_cases}

    def run(self, photo, prompt, seed):
        from freecure_edit.evaluation.methods.base import MethodOutput
        from freecure_edit.toyworld.ideal import edit_region

        case = self._cases[(id(photo), prompt)]
        key = (id(photo), prompt, self.fd, self.masks, self.config)
        result = _RESULTS.get(key)
        if result is None:
            callbacks = oracle_masks(edit_region(case.drawing, case.ideal)) if self.masks else None
            self.freecure.forget_inversions()
            with oracle_foundation(case.ideal.image) if self.fd else nullcontext():
                result = self.freecure.cure(photo, prompt, self.config, callbacks=callbacks)
            _RESULTS.clear()  # a cure and its foundation image are asked one after the other
            _RESULTS[key] = result
        image = result.image
        if self.fd_alone and result.fd_image is not None:
            image = result.fd_image.resize(photo.size) if result.fd_image.size != photo.size else result.fd_image
        return MethodOutput(image=image, evaluations=result.stats.total_evaluations,
                            seconds=result.stats.total_seconds, mask=result.masks.get("union"),
                            masks={k: v for k, v in result.masks.items() if k not in ("union", "paste")},
                            fd_image=result.fd_image)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=4, help="drawings, each asked one edit per family")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0, help="which drawings (identities, jitter)")
    parser.add_argument("--only", action="append", default=[], help="run only the rows whose label holds this text")
    parser.add_argument("--dump", type=Path, metavar="JSON", help="per-edit values, for toyworld_experiment --combine")
    parser.add_argument("--save", type=Path, help="write inputs, outputs, FD images and masks here")
    parser.add_argument("--grid", type=Path, metavar="PATH",
                        help="write a PNG: per edit, input | ideal | FD | cure | the oracles' cures | "
                             "fd_blend 1 with fd_start 0.2")
    args = parser.parse_args(argv)

    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.evaluation.metrics.toy import ToyMetric
    from freecure_edit.toyworld.assets import model_dir

    started = time.perf_counter()
    freecure = FreeCure.from_pretrained(str(model_dir("sd")), parser="segformer",
                                        parser_model=str(model_dir("parser")), device="cpu", detector=None)
    freecure.pipe.set_progress_bar_config(disable=True)
    # Every row from the authors' carrying (FASA alone), whatever the model's photo defaults, so that a
    # row's label names everything it changes.
    base = CureConfig(steps=args.steps, detect=False, fd_start=0.0, fd_blend=0.0)
    all_cases = experiment.family_cases(args.photos, args.seed)
    methods = [(experiment.IDEAL_LABEL, experiment.IdealEdit(all_cases))]
    for label, fd, masks, overrides, fd_alone in VARIANTS:
        if not args.only or any(text in label for text in args.only):
            methods.append((label, OracleCure(freecure, base, all_cases, fd, masks, overrides, fd_alone)))
    default = OracleCure(freecure, base, all_cases, False, False, {}, False)  # PSNR's mask: FASA alone's

    def reference(photo, prompt):
        default.run(photo, prompt, 0)
        return _RESULTS[(id(photo), prompt, False, False, default.config)]

    recorded = {label: Recording(method) for label, method in methods
                if any(label == column_label for _, column_label, _ in GRID_COLUMNS)} if args.grid else {}
    methods = [(label, recorded.get(label, method)) for label, method in methods]
    rows = experiment.run(methods, all_cases, ToyMetric(), reference, args.save)
    if args.grid is not None:
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        oracle_grid(all_cases, recorded).save(args.grid)
    print(f"Toy world oracles, {args.photos} drawings x {len(experiment.FAMILY_EDITS)} edits, {args.steps} steps, "
          f"seed {args.seed}; {time.perf_counter() - started:.0f} s in all.\n")
    print(experiment.table(rows))
    print()
    print(experiment.family_table([rows]))
    if args.dump is not None:
        experiment.dump(rows, args.dump)


if __name__ == "__main__":
    main()
