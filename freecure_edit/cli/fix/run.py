"""The work of `fix`, cheapest refusals first: options, output path and input are all checked before
any model loads, so a typo costs a second, not a model load."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from freecure_edit.cli.config_options import config_values
from freecure_edit.cli.fix.report import result_json, summary_line
from freecure_edit.cli.messages import note, warn
from freecure_edit.cli.model_options import model_values
from freecure_edit.cli.fix.progress import PhaseProgress
from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries
from freecure_edit.errors import IdentityBelowThresholdError
from freecure_edit.cure.estimate import Estimate, estimate_line, expected_evaluations, measure_evaluation_seconds
from freecure_edit.failures import identity_failure
from freecure_edit.imageio import pixel_limit
from freecure_edit.model_choice import check_models, check_working_size, load_freecure, model_choice
from freecure_edit.imageio.output_files import check_intermediates_folder, output_target, save_cured
from freecure_edit.imageio.output_checks import check_transparency
from freecure_edit.cure.phases import phase_plan
from freecure_edit.cure.presets import apply_presets
from freecure_edit.cure.unchanged import unchanged_result


@dataclass
class FixOutcome:
    result: Any  # CureResult
    input_path: Path
    output: Path
    estimate: Estimate
    input_warnings: list[str]
    notes: list[str]
    intermediates: list[Path]
    device: str
    seconds: float

    @property
    def failure(self) -> IdentityBelowThresholdError | None:
        """The output was written, but the identity stayed below --min-identity: exit code 6."""
        return identity_failure(self.result, "--min-identity", f"was written to {self.output}")


def run_fix(params: dict[str, Any], given: set[str]) -> FixOutcome:
    started = time.perf_counter()
    quiet_libraries(params["debug"])
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.models.devices import pick_device
    from freecure_edit.imageio import load_image
    from freecure_edit.prompts import parse_prompt

    prompt, input_path = params["prompt"], params["input_path"]
    device = pick_device(params["device"])
    values, notes = apply_presets(config_values(params), given, draft=params["draft"], device_type=device.type)
    config = CureConfig(**values)
    choice = model_choice(model_values(params), config.refine)
    overrides = list(config.attributes) if config.attributes is not None else None
    parsed = parse_prompt(prompt, template=config.template, attributes=overrides)
    target = output_target(input_path, params["output"], overwrite=params["overwrite"])
    check_intermediates_folder(params["save_intermediates"])
    loaded = load_image(input_path, max_pixels=pixel_limit(params["max_pixels"]))
    check_transparency(loaded.alpha, target, str(input_path))
    if parsed.attributes:
        choice = check_models(choice, detect=config.detect)
        check_working_size(choice, config.working_size, device)
        notes = [*notes, *filter(None, [choice.face_pack_note])]
    for text in notes:
        note(text)
    for text in loaded.warnings:
        warn(text)

    if parsed.attributes:
        quiet_loaded_libraries(params["debug"])
        result, estimate = _cure(load_freecure(choice, device, detect=config.detect), loaded, prompt, parsed, config)
    else:
        result, estimate = unchanged_result(loaded, prompt, parsed, config), Estimate({})
    for text in result.warnings:
        warn(text)

    save_cured(result.image, loaded, target, prompt, result.config, choice.parameters(config.detect),
               quality=params["jpeg_quality"], overwrite=params["overwrite"], metadata=params["metadata"])
    folder = params["save_intermediates"]
    intermediates = result.save_intermediates(folder) if folder is not None else []
    return FixOutcome(result, input_path, target, estimate, list(loaded.warnings), notes, intermediates,
                      device.type, time.perf_counter() - started)


def _cure(cure, loaded, prompt: str, parsed, config):
    """Estimate the time, then cure with a progress display."""
    asked, config = config, cure.resolve_config(config)  # the model's own steps and guidance where unset
    detected = None
    if cure.face_analyzer is not None and config.detect:
        from freecure_edit.faces import select_faces

        # Detected once, here: the estimate needs the number of faces (and a photo without a face
        # ends before any denoising), and the cure takes the same detections.
        detected = cure.face_analyzer.detect(loaded.rgb)
        faces = len(select_faces(detected, config.face_selection))
        side = config.working_size or cure.backbone.native_size
        working_size = (side, side)
    else:
        faces, working_size = 1, cure.working_size(loaded.size, config)
    estimate = expected_evaluations(config, parsed, faces=faces, guidance_rows=cure.backbone.uses_guidance)
    seconds = measure_evaluation_seconds(cure.backbone, working_size, parsed.template, config.photo_guidance)
    estimate = replace(estimate, seconds_per_evaluation=seconds)
    note(estimate_line(estimate, cure.backbone.device.type))
    with PhaseProgress(phase_plan(config, parsed)) as display:
        result = cure.cure(loaded, prompt, asked, progress=display, faces=detected)
        display.finish()
    return result, estimate


def report_outcome(outcome: FixOutcome, *, as_json: bool) -> None:
    result = outcome.result
    if not as_json:
        click.echo(summary_line(result.attributes, len(result.faces), outcome.output, result.identity_similarity,
                                outcome.seconds))
        return
    summary = result.summary()
    summary["warnings"] = outcome.input_warnings + summary["warnings"]
    click.echo(result_json(
        summary,
        outcome.failure,
        input=str(outcome.input_path),
        output=str(outcome.output),
        device=outcome.device,
        notes=outcome.notes,
        estimate=outcome.estimate.to_dict(),
        intermediates=[str(path) for path in outcome.intermediates],
        seconds=round(outcome.seconds, 3),
    ))
