"""The work of `generate`, cheapest refusals first: options, output path and reference image are
checked before any model loads."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from freecure_edit.cli.config_options import config_values
from freecure_edit.cli.fix.progress import PhaseProgress
from freecure_edit.cli.fix.report import result_json
from freecure_edit.cli.messages import note, warn
from freecure_edit.cli.model_options import model_values
from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries
from freecure_edit.cure.estimate import Estimate, estimate_line, format_duration, measure_evaluation_seconds
from freecure_edit.cure.presets import apply_presets
from freecure_edit.imageio import pixel_limit
from freecure_edit.imageio.output_files import check_intermediates_folder, output_target, stored_parameters
from freecure_edit.model_choice import check_models, load_freecure, model_choice


@dataclass
class GenerateOutcome:
    result: Any  # GenerationResult
    reference: Path
    output: Path
    estimate: Estimate
    notes: list[str]
    intermediates: list[Path]
    device: str
    seconds: float


def default_output(reference: Path, seed: int) -> Path:
    return reference.with_name(f"{reference.stem}.generated-{seed}.png")


def run_generate(params: dict[str, Any], given: set[str]) -> GenerateOutcome:
    started = time.perf_counter()
    quiet_libraries(params["debug"])
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.generation.adapter import check_adapter_source
    from freecure_edit.generation.estimate import generation_evaluations, generation_phases
    from freecure_edit.imageio import load_image, save_image
    from freecure_edit.models.devices import pick_device
    from freecure_edit.prompts import parse_prompt

    prompt, reference, seed = params["prompt"], params["id_image"], params["seed"]
    device = pick_device(params["device"])
    values, notes = apply_presets(config_values(params), given, draft=False, device_type=device.type)
    config = CureConfig(**values)
    choice = model_choice(model_values(params), config.refine)
    parsed = parse_prompt(prompt, template=config.template,
                          attributes=list(config.attributes) if config.attributes is not None else None)
    target = output_target(reference, params["output"] or default_output(reference, seed),
                           overwrite=params["overwrite"])
    check_intermediates_folder(params["save_intermediates"])
    loaded = load_image(reference, max_pixels=pixel_limit(params["max_pixels"]))
    check_adapter_source(params["adapter"])
    choice = check_models(choice, detect=True)
    notes = [*notes, *filter(None, [choice.face_pack_note])]
    for text in notes:
        note(text)
    for text in loaded.warnings:
        warn(text)

    quiet_loaded_libraries(params["debug"])
    fc = load_freecure(choice, device, detect=True)
    adapter = fc.load_adapter(params["adapter"], params["adapter_weight_name"], image_encoder=params["image_encoder"])
    resolved = fc.resolve_config(config)
    side = resolved.working_size or fc.backbone.native_size
    estimate = replace(generation_evaluations(resolved, parsed), seconds_per_evaluation=measure_evaluation_seconds(
        fc.backbone, (side, side), parsed.template, resolved.photo_guidance, identity_dim=adapter.id_dim))
    note(estimate_line(estimate, fc.backbone.device.type))
    with PhaseProgress(generation_phases(resolved, parsed)) as display:
        result = fc.generate(loaded.rgb, prompt, config, seed=seed, progress=display)
        display.finish()
    for text in result.warnings:
        warn(text)
    models = {**choice.parameters(True), "adapter": params["adapter"], "seed": str(seed)}
    # A new image: nothing of the reference's metadata is carried into it, only what made it.
    save_image(result.image, target, parameters=stored_parameters(prompt, config, models),
               quality=params["jpeg_quality"], overwrite=params["overwrite"])
    folder = params["save_intermediates"]
    intermediates = result.save_intermediates(folder) if folder is not None else []
    return GenerateOutcome(result, reference, target, estimate, notes, intermediates, device.type,
                           time.perf_counter() - started)


def summary_line(outcome: GenerateOutcome) -> str:
    result = outcome.result
    cured = ", ".join(repr(attribute.text) for attribute in result.attributes) or "nothing"
    parts = [f"generated with {cured} cured -> {outcome.output}"]
    if result.identity_similarity is not None:
        uncured = result.pd_identity_similarity
        parts.append(f"identity similarity {result.identity_similarity:.2f}"
                     + ("" if uncured is None else f" (uncured {uncured:.2f})"))
    parts.append(format_duration(outcome.seconds))
    return "; ".join(parts)


def report_generation(outcome: GenerateOutcome, *, as_json: bool) -> None:
    if not as_json:
        click.echo(summary_line(outcome))
        return
    click.echo(result_json(
        outcome.result.summary(), None,
        reference=str(outcome.reference), output=str(outcome.output), device=outcome.device, notes=outcome.notes,
        estimate=outcome.estimate.to_dict(), intermediates=[str(path) for path in outcome.intermediates],
        seconds=round(outcome.seconds, 3),
    ))
