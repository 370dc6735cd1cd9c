"""Does the cure cure? The toy world's experiment (issue 12, items 4 and 5), one markdown table per run.

    python benchmarks/toyworld_experiment.py                      # every method, ~10 min on a 2-core CPU
    python benchmarks/toyworld_experiment.py --photos 4 --steps 20
    python benchmarks/toyworld_experiment.py --sweep              # the cure's knobs, one at a time
    python benchmarks/toyworld_experiment.py --fd-variants        # the foundation branch and masks (issue 27)
    python benchmarks/toyworld_experiment.py --save /tmp/toy-exp  # inputs, FD images, outputs, masks
    python benchmarks/toyworld_experiment.py --grid grid.png      # input | FD | masks | cure | ideal per edit
    python benchmarks/toyworld_experiment.py --families --photos 8 --dump s0.json   # one edit per family, per-family table
    python benchmarks/toyworld_experiment.py --combine s0.json s1.json s2.json    # seeds pooled, +/- half their spread
    python benchmarks/toyworld_experiment.py --flux               # the toy FLUX: FASA blocks x omega

The world is drawn first: portraits that LACK what is asked (dark hair, no glasses, a neutral face, no
hat), asked for one, two and three attributes (red or blonde hair, round glasses, a hat, a smile), as
in the paper's Table 2; with --families, each drawing is asked one edit of each family instead (hair
colour, hair style, glasses, hat, expression, and a removal of glasses, a hat or a smile it wears). Every
method edits the same drawings with the same prompts on the committed toy models, in one process, through
freecure_edit.evaluation's method adapters:

- PC: the share of asked attributes the toy attribute judge sees in the output;
- IF: the toy identity judge's cosine between the drawing and the output;
- PSNR outside the union mask of the default cure (the part of the photo no attribute concerns);
- hMean = 2 PC IF / (PC + IF) of the mean PC and mean IF; evaluations (UNet rows) and seconds per edit;
- the distance to the ideal edit (freecure_edit.toyworld.ideal), the world's redraw of the drawing with
  the asked attributes: MAE (8-bit levels, 0 is ideal) and SSIM (1 is ideal), inside the region the edit
  should change and outside it. The judges read "red hair" off a red smear; these do not.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

# What each family is asked to become, from the value every drawing starts with.
ASKED = {"hair_colour": ("red", "blonde"), "glasses": ("round",), "hat": ("hat",), "expression": ("smiling",)}
# Families asked together, per attribute count; photo k takes combination k modulo the list.
COMBINATIONS = {
    1: [["hair_colour"], ["glasses"], ["hat"], ["expression"]],
    2: [["hair_colour", "glasses"], ["hair_colour", "hat"], ["glasses", "expression"]],
    3: [["hair_colour", "glasses", "hat"], ["hair_colour", "glasses", "expression"]],
}
IDEAL_LABEL = "ideal edit (the world redrawn)"
# The table's heads for toyworld.ideal's DISTANCE_NAMES, in that order.
IDEAL_HEADS = {"ideal_mae_in": "MAE in", "ideal_mae_out": "MAE out", "ideal_ssim_in": "SSIM in",
               "ideal_ssim_out": "SSIM out"}
# The peers of issue 12 item 4, as evaluation method specs; ("label", spec or cure overrides).
METHODS = [
    ("input unchanged", "input"),
    ("FD alone", "fd"),
    ("cure (FASA defaults, APG branch)", {}),
    # The SD 1.x photo defaults before the oracle table: FASA alone carries the foundation in.
    ("cure, FASA alone (fd_start 0, fd_blend 0; before)", {"fd_start": 0.0, "fd_blend": 0.0}),
    # The foundation branch at the photo branch's guidance (the defaults before issue 27's first table).
    ("cure, one guidance 7.5 for both branches", {"guidance": 7.5}),
    ("cure, PD guidance 1", {"pd_guidance": 1.0}),
    ("cure, APG reinvert", {"apg": "reinvert"}),
    ("cure, ROFA", {"method": "rofa"}),
    ("cure, ddim front end", {"inversion": "ddim"}),
    ("cure, null-text front end", {"inversion": "null-text"}),
    ("LEDITS++", "ledits"),
    ("img2img 0.5", "img2img"),
]


def flux_variants(transformer) -> list[tuple[str, object]]:
    """The toy FLUX's table (issue 16, items 4 and 8): input, FD alone, and the cure with FASA in the
    double-stream blocks, the second half of the single-stream blocks (the provisional default), or
    all blocks, each at omega 1 and 3."""
    from freecure_edit.attention.flux_layers import DOUBLE_PREFIX, SINGLE_PREFIX, flux_attention_layers

    every = flux_attention_layers(transformer)
    double = tuple(name for name in every if name.startswith(DOUBLE_PREFIX))
    single = [name for name in every if name.startswith(SINGLE_PREFIX)]
    late_single = tuple(single[len(single) // 2:])
    chosen: list[tuple[str, object]] = [("input unchanged", "input"), ("FD alone", "fd")]
    for label, layers in ((f"double-stream ({len(double)})", double),
                          (f"late single-stream ({len(late_single)} of {len(single)})", late_single),
                          (f"all blocks ({len(every)})", tuple(every))):
        for omega in (1.0, 3.0):
            chosen.append((f"cure, {label}, omega {omega:g}", {"fasa_layers": layers, "omega": omega}))
    return chosen


def sweep_variants(unet) -> list[tuple[str, dict]]:
    """The cure's knobs, each moved alone from the defaults (issue 12 item 5)."""
    from freecure_edit.attention import default_fasa_layers, up_path_self_attention_layers

    every = tuple(up_path_self_attention_layers(unet))
    default = tuple(default_fasa_layers(unet))
    others = every if every != default else tuple(every[-max(1, len(every) // 2):])
    label = f"{len(others)} of {len(every)} up-path layers"
    return [
        ("defaults", {}),
        ("omega 1", {"omega": 1.0}),
        ("omega 2", {"omega": 2.0}),
        (label, {"fasa_layers": others}),
        (f"{label}, omega 1", {"fasa_layers": others, "omega": 1.0}),
        (f"{label}, omega 2", {"fasa_layers": others, "omega": 2.0}),
        (f"{label}, paste feather 2 px", {"fasa_layers": others, "paste_feather_px": 2.0}),
        ("FASA steps 0-0.5", {"fasa_steps": (0.0, 0.5)}),
        ("FASA steps 0.5-1", {"fasa_steps": (0.5, 1.0)}),
        ("gamma 0.25", {"gamma": 0.25}),
        ("gamma 0.75", {"gamma": 0.75}),
        ("PD guidance 1", {"pd_guidance": 1.0}),
        ("APG reinvert", {"apg": "reinvert"}),
        ("FD corrections off", {"fd_corrections": False}),
        ("mask corrections 1", {"mask_corrections": 1.0}),
        ("mask corrections 0", {"mask_corrections": 0.0}),
        ("FD mask corrections 1", {"fd_mask_corrections": 1.0}),
        ("FD mask corrections 0.5", {"fd_mask_corrections": 0.5}),
        ("every correction kept (mask and FD mask corrections 1)",
         {"mask_corrections": 1.0, "fd_mask_corrections": 1.0}),
        ("mask dilation 3 px", {"mask_dilation_px": 3}),
        ("paste feather 2 px", {"paste_feather_px": 2.0}),
    ]


def fd_variants() -> list[tuple[str, dict, bool]]:
    """Issue 27 item 4: the foundation branch's variants and the masks' source, each moved alone from the
    defaults, as (label, cure overrides, whether FD itself changes: such rows get an "FD alone" row too)."""
    return [
        ("defaults (FD from the exact inversion, masks from both parses; on SD 1.x FD at 4, the photo at 7.5)", {}, True),
        *[(f"FD shares the photo's trajectory for {share:g} of the steps", {"fd_start": share}, True)
          for share in (0.2, 0.4)],
        ("FD without its corrections", {"fd_corrections": False}, True),
        *[(f"FD guidance {g:g}, PD guidance 7.5", {"guidance": g, "pd_guidance": 7.5}, True)
          for g in (2.5, 3.0, 4.0, 7.5, 12.0)],
        # The paper's own setting: fresh noise, masks from the foundation image's own parse.
        *[(f"FD from fresh noise, seed {seed}, masks from its parse",
           {"fd_noise": "fresh", "fd_seed": seed, "mask_source": "fd"}, True) for seed in (0,)],
        # The single variants that helped on seed 0 (24 edits), together, and with more weight on FD.
        *[(f"FD guidance 4{label}", {"guidance": 4.0, "pd_guidance": 7.5, **extra}, True) for label, extra in (
            (", without its corrections", {"fd_corrections": False}),
            (", sharing the photo's trajectory for 0.2", {"fd_start": 0.2}),
            (", sharing 0.2, without its corrections", {"fd_start": 0.2, "fd_corrections": False}),
            (", omega 1", {"omega": 1.0}),
            (", omega 2", {"omega": 2.0}),
        )],
        ("masks from the photo's parse", {"mask_source": "photo"}, False),
        ("masks from FD's parse", {"mask_source": "fd"}, False),
    ]


def fd_variant_methods(cache, base) -> list[tuple[str, object]]:
    """The cure for every variant of `fd_variants`, and FD alone for those that change FD; FD alone
    reuses its cure's result (CureCache), so it costs nothing more."""
    from freecure_edit.evaluation.methods.cure import CureMethod, FoundationMethod

    methods = []
    for label, overrides, changes_fd in fd_variants():
        methods.append((f"cure, {label}", CureMethod(label, cache, base, overrides)))
        if changes_fd:
            methods.append((f"FD alone, {label}", FoundationMethod(label, cache, base, overrides)))
    return methods


@dataclass
class Case:
    """One drawing and one prompt that asks it for `count` attributes it lacks."""

    drawing: object
    prompt: str
    count: int
    ideal: object = None  # the same drawing redrawn by the world with the asked attributes
    family: str = ""  # the family the edit belongs to in the per-family table (`family_cases`)


class IdealEdit:
    """The edit a perfect method would make: the world redraws the same person, pose and background with
    the asked attributes. Its IF is the ceiling of the identity judge for that change (the judge is not
    perfectly blind to hair, glasses and hats), so the cure's IF is read against it, not against 1."""

    def __init__(self, all_cases):
        self._ideal = {(id(case.drawing.image), case.prompt): case.ideal for case in all_cases}

    def run(self, photo, prompt, seed):
        from freecure_edit.evaluation.methods.base import MethodOutput

        return MethodOutput(image=self._ideal[(id(photo), prompt)].image)


@dataclass
class Row:
    pc: list[float] = field(default_factory=list)
    identity: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ideal: dict[str, list[float]] = field(default_factory=dict)  # distance name -> values (None left out)
    evaluations: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    pc_by_count: dict[int, list[float]] = field(default_factory=dict)
    by_family: dict[str, list[dict]] = field(default_factory=dict)  # case family -> each case's scores


def cases(photos: int, seed: int) -> list[Case]:
    """`photos` drawings lacking every asked attribute, each asked for 1, 2 and 3 attributes."""
    from freecure_edit.toyworld.world import DARK_HAIR, FAMILIES, PortraitSpec, draw, prompt_for

    out = []
    for k in range(photos):
        spec = PortraitSpec(identity=(5 * k + seed) % 16, hair_colour=DARK_HAIR[k % 2],
                            hair_style=FAMILIES["hair_style"][(k // 2) % 2])
        drawing = draw(spec, seed * 1000 + k)
        for count, combos in COMBINATIONS.items():
            families = combos[k % len(combos)]
            changes = {family: ASKED[family][k % len(ASKED[family])] for family in families}
            wanted = spec.with_changes(**changes)
            out.append(Case(drawing, prompt_for(wanted, families), count, draw(wanted, seed * 1000 + k)))
    return out


# The families of issue 27's table, in its order; each `family_cases` photo is asked one edit of each.
FAMILY_EDITS = ("hair colour", "hair style", "glasses", "hat", "expression", "removal")
# What a removal starts from, by photo: the attribute drawn, and the family its prompt names.
REMOVALS = (("glasses", "round"), ("hat", "hat"), ("expression", "smiling"), ("glasses", "sunglasses"))


def family_cases(photos: int, seed: int) -> list[Case]:
    """`photos` drawings, each asked one edit per family of FAMILY_EDITS: a hair colour it lacks (red or
    blonde), the other hair style, round glasses or sunglasses, a hat, a smile or surprise, and the
    removal of glasses, a hat or a smile drawn on the same person ("without glasses", "without a hat",
    "with a neutral expression")."""
    from freecure_edit.toyworld.world import DARK_HAIR, FAMILIES, PortraitSpec, draw, prompt_for

    out = []
    for k in range(photos):
        spec = PortraitSpec(identity=(5 * k + seed) % 16, hair_colour=DARK_HAIR[k % 2],
                            hair_style=FAMILIES["hair_style"][(k // 2) % 2])
        drawing_seed = seed * 1000 + k
        drawing = draw(spec, drawing_seed)
        edits = {
            "hair colour": ("hair_colour", ("red", "blonde")[k % 2]),
            "hair style": ("hair_style", FAMILIES["hair_style"][1 - (k // 2) % 2]),
            "glasses": ("glasses", ("round", "sunglasses")[k % 2]),
            "hat": ("hat", "hat"),
            "expression": ("expression", ("smiling", "surprised")[k % 2]),
        }
        for family, (name, value) in edits.items():
            wanted = spec.with_changes(**{name: value})
            out.append(Case(drawing, prompt_for(wanted, [name]), 1, draw(wanted, drawing_seed), family))
        name, value = REMOVALS[k % len(REMOVALS)]
        worn = spec.with_changes(**{name: value})
        default = PortraitSpec(identity=0).attributes()[name]
        out.append(Case(draw(worn, drawing_seed), prompt_for(spec, [name]), 1,
                        draw(worn.with_changes(**{name: default}), drawing_seed), "removal"))
    return out


def run(methods, all_cases, toy_metric, reference, save: Path | None, grid: list | None = None) -> dict[str, Row]:
    """Every method on every case; `reference` gives the default cure's result (PSNR's region is its
    union mask). `grid`, when a list, receives a row per case for `edit_grid`."""
    from freecure_edit.evaluation.metrics.base import Sample
    from freecure_edit.evaluation.metrics.psnr import psnr_outside
    from freecure_edit.toyworld.ideal import distance_to_ideal

    rows = {label: Row() for label, _ in methods}
    for n, case in enumerate(all_cases):
        photo = case.drawing.image
        cured = reference(photo, case.prompt)
        mask = cured.masks.get("union")
        if grid is not None:
            grid.append(grid_row(case, cured))
        for label, method in methods:
            torch.manual_seed(0)
            output = method.run(photo, case.prompt, 0)
            scores = toy_metric.score(Sample(photo, output.image, case.prompt))
            row = rows[label]
            row.pc.append(scores["pc"])
            row.pc_by_count.setdefault(case.count, []).append(scores["pc"])
            row.identity.append(scores["if"])
            row.psnr.append(psnr_outside(photo, output.image, mask))
            distances = distance_to_ideal(output.image, case.drawing, case.ideal)
            for name, value in distances.items():
                if value is not None:
                    row.ideal.setdefault(name, []).append(value)
            row.evaluations.append(output.evaluations)
            row.seconds.append(output.seconds)
            if case.family:
                row.by_family.setdefault(case.family, []).append({**distances, "pc": scores["pc"], "if": scores["if"]})
            if save is not None:
                folder = save / f"case{n:02d}"
                folder.mkdir(parents=True, exist_ok=True)
                photo.save(folder / "input.png")
                (folder / "prompt.txt").write_text(case.prompt + "\n")
                output.image.save(folder / f"{_slug(label)}.png")
                if output.fd_image is not None and output.masks:
                    from freecure_edit.masks import mask_overlay

                    output.fd_image.save(folder / f"{_slug(label)}-fd.png")
                    mask_overlay(photo, {**output.masks, "union": output.mask}).save(folder / f"{_slug(label)}-masks.png")
        print(f"  case {n + 1}/{len(all_cases)}: {case.prompt}", file=sys.stderr, flush=True)
    return rows


def grid_row(case: Case, cured) -> tuple[str, list]:
    """input | FD | masks | cure | ideal of the default cure on one case."""
    from freecure_edit.evaluation.grid import masks_cell

    photo = case.drawing.image
    attribute_masks = {name: mask for name, mask in cured.masks.items() if name not in ("union", "paste")}
    masks = masks_cell(photo, attribute_masks) if attribute_masks else None
    return case.prompt, [photo, cured.fd_image, masks, cured.image, case.ideal.image]


def table(rows: dict[str, Row]) -> str:
    from freecure_edit.evaluation.tables import harmonic_mean
    from freecure_edit.toyworld.ideal import DISTANCE_NAMES

    counts = sorted({c for row in rows.values() for c in row.pc_by_count})
    head = ["method", *[f"PC {c} attr" for c in counts], "PC", "IF", "PSNR out (dB)", "hMean",
            *[IDEAL_HEADS[name] for name in DISTANCE_NAMES], "evals", "s / edit"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, row in rows.items():
        pc, identity = fmean(row.pc), fmean(row.identity)
        psnr = [p for p in row.psnr if p is not None]
        hmean = harmonic_mean(pc, identity)
        ideal = [f"{fmean(row.ideal[name]):.{1 if 'mae' in name else 2}f}" if row.ideal.get(name) else "-"
                 for name in DISTANCE_NAMES]
        cells = [label, *[f"{fmean(row.pc_by_count[c]):.2f}" for c in counts], f"{pc:.2f}", f"{identity:.3f}",
                 f"{fmean(psnr):.1f}" if psnr else "-", f"{hmean:.3f}" if hmean is not None else "0",
                 *ideal, f"{fmean(row.evaluations):.0f}", f"{fmean(row.seconds):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


FAMILY_HEADS = ("PC", "IF", "IF / ideal's", "MAE in", "SSIM in", "MAE out", "SSIM out")


def family_table(runs: list[dict[str, Row]]) -> str:
    """Per family of FAMILY_EDITS and method: PC, IF (and as a share of the ideal edit's IF on the same
    cases), and the distance to the ideal edit, pooled over `runs` (one per seed); with several runs each
    cell adds +/- half the spread of the per-run means, so a reader sees what a seed changes."""
    labels = list(runs[0])
    families = [f for f in FAMILY_EDITS if f in runs[0][labels[0]].by_family]
    head = ["family", "method", *FAMILY_HEADS, "edits"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for family in [*families, "all"]:
        for label in labels:
            per_run = []
            for rows in runs:
                chosen = families if family == "all" else [family]
                scores = [s for f in chosen for s in rows[label].by_family[f]]
                ideal = [s for f in chosen for s in rows[IDEAL_LABEL].by_family[f]] if IDEAL_LABEL in rows else []
                per_run.append(_family_means(scores, ideal))
            cells = [family, label]
            for head_name in FAMILY_HEADS:
                values = [m[head_name] for m in per_run if m[head_name] is not None]
                cells.append(_spread(values, 3 if head_name.startswith(("PC", "IF", "SSIM")) else 1))
            cells.append(str(sum(m["edits"] for m in per_run)))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _family_means(scores: list[dict], ideal: list[dict]) -> dict:
    def mean(name, among):
        values = [s[name] for s in among if s.get(name) is not None]
        return fmean(values) if values else None

    identity, ideal_identity = mean("if", scores), mean("if", ideal)
    return {"PC": mean("pc", scores), "IF": identity,
            "IF / ideal's": identity / ideal_identity if ideal_identity else None,
            "MAE in": mean("ideal_mae_in", scores), "SSIM in": mean("ideal_ssim_in", scores),
            "MAE out": mean("ideal_mae_out", scores), "SSIM out": mean("ideal_ssim_out", scores),
            "edits": len(scores)}


def _spread(values: list[float], digits: int) -> str:
    if not values:
        return "-"
    text = f"{fmean(values):.{digits}f}"
    if len(values) > 1:
        text += f" +/- {(max(values) - min(values)) / 2:.{digits}f}"
    return text


def dump(rows: dict[str, Row], path: Path) -> None:
    """The run's per-edit values as JSON, for `--combine` to pool seeds run in separate processes."""
    import json
    from dataclasses import asdict

    path.write_text(json.dumps({label: asdict(row) for label, row in rows.items()}))


def load_dump(path: Path) -> dict[str, Row]:
    import json

    loaded = json.loads(path.read_text())
    rows = {}
    for label, values in loaded.items():
        values["pc_by_count"] = {int(count): pcs for count, pcs in values["pc_by_count"].items()}
        rows[label] = Row(**values)
    return rows


def merged_dumps(spec: str) -> dict[str, Row]:
    """"a.json+b.json": the rows of runs on the same seed with different methods, as one run."""
    rows: dict[str, Row] = {}
    for path in spec.split("+"):
        rows.update(load_dump(Path(path)))
    return rows


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=2, help="drawings (each asked 1, 2 and 3 attributes)")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--guidance", type=float, help="[default: the model's own: 7.5 on the toy SD, 3.5 on FLUX]")
    parser.add_argument("--flux", nargs="?", const="", metavar="DIR",
                        help="the toy FLUX (the committed one, or DIR) instead of the toy SD: FASA blocks x omega")
    parser.add_argument("--seed", type=int, default=0, help="which drawings (identities, jitter)")
    parser.add_argument("--sweep", action="store_true", help="the cure's knobs instead of the peers")
    parser.add_argument("--fd-variants", action="store_true",
                        help="the foundation branch's variants and the masks' source instead of the peers (issue 27)")
    parser.add_argument("--families", action="store_true",
                        help="one edit per family per drawing (hair colour, hair style, glasses, hat, expression, "
                             "a removal) instead of 1-3 attributes, and a per-family table")
    parser.add_argument("--dump", type=Path, metavar="JSON", help="write the per-edit values here (for --combine)")
    parser.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                        help="no run: pool the --dump files of several seeds into the per-family table "
                             "(a.json+b.json: two runs of one seed with different methods)")
    parser.add_argument("--only", action="append", default=[], help="run only the methods whose label holds this text")
    parser.add_argument("--save", type=Path, help="write inputs, outputs, FD images and masks here")
    parser.add_argument("--grid", type=Path, metavar="PATH",
                        help="write a PNG: per edit, input | FD | masks | cure (defaults) | ideal")
    args = parser.parse_args(argv)
    if args.combine:
        print(family_table([merged_dumps(str(spec)) for spec in args.combine]))
        return

    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.evaluation.methods import UnetCounter, build_method
    from freecure_edit.evaluation.methods.cure import CureCache, CureMethod
    from freecure_edit.evaluation.metrics.toy import ToyMetric
    from freecure_edit.toyworld.assets import model_dir

    started = time.perf_counter()
    model = str(model_dir("sd")) if args.flux is None else (args.flux or str(model_dir("flux")))
    freecure = FreeCure.from_pretrained(model, parser="segformer", parser_model=str(model_dir("parser")),
                                        device="cpu", detector=None)
    freecure.pipe.set_progress_bar_config(disable=True)
    counter = UnetCounter(freecure.backbone.attention_model)
    cache = CureCache(freecure)
    # The drawings are 64 px: FluxPipeline's native size would be 512 px on the toy's autoencoder.
    base = CureConfig(steps=args.steps, guidance=args.guidance, detect=False,
                      working_size=64 if args.flux is not None else None)
    resolved = freecure.resolve_config(base)
    guidance = resolved.photo_guidance  # the peers', and the photo branch's
    fd_guidance = "" if resolved.guidance == guidance else f" (the cure's foundation branch {resolved.guidance:g})"
    if args.flux is not None:
        methods = [(label, CureMethod(label, cache, base, spec) if isinstance(spec, dict) else
                    build_method(spec, pipe=freecure.pipe, counter=counter, cache=cache, base_config=base,
                                 steps=args.steps, guidance=guidance, backbone=freecure.backbone))
                   for label, spec in flux_variants(freecure.pipe.transformer)]
    elif args.sweep:
        chosen = sweep_variants(freecure.pipe.unet)
        methods = [(label, CureMethod(label, cache, base, overrides)) for label, overrides in chosen]
    elif args.fd_variants:
        methods = fd_variant_methods(cache, base)
    else:
        methods = [
            (label, CureMethod(label, cache, base, spec) if isinstance(spec, dict) else
             build_method(spec, pipe=freecure.pipe, counter=counter, cache=cache, base_config=base,
                          steps=args.steps, guidance=guidance))
            for label, spec in METHODS
        ]
    all_cases = (family_cases if args.families else cases)(args.photos, args.seed)
    methods.insert(0, (IDEAL_LABEL, IdealEdit(all_cases)))
    if args.only:
        methods = [(label, method) for label, method in methods
                   if label == IDEAL_LABEL or any(text in label for text in args.only)]
    grid = [] if args.grid is not None else None
    rows = run(methods, all_cases, ToyMetric(), lambda photo, prompt: cache.cure(photo, prompt, base), args.save, grid)
    counter.close()
    if grid is not None:
        from freecure_edit.evaluation.grid import edit_grid

        args.grid.parent.mkdir(parents=True, exist_ok=True)
        edit_grid(grid).save(args.grid)
    per_photo = len(FAMILY_EDITS) if args.families else len(COMBINATIONS)
    print(f"Toy world ({freecure.backbone.model_defaults.name}-like toy), {args.photos} drawings x {per_photo} "
          f"prompts ({len(all_cases)} edits per method), {args.steps} steps, guidance {guidance:g}{fd_guidance}, seed {args.seed}; "
          f"{time.perf_counter() - started:.0f} s in all.\n")
    print(table(rows))
    if args.families:
        print()
        print(family_table([rows]))
    if args.dump is not None:
        dump(rows, args.dump)


if __name__ == "__main__":
    main()
