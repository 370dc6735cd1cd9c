"""The work of `generate`, cheapest refusals first: options, output paths and reference images are
checked before any model loads. One reference and prompt (`--id-image`, `--prompt`), or many rows
(`--prompts FILE`, generation/rows.py) with the models loaded once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from freecure_edit.cli.config_options import config_values
from freecure_edit.cli.fix.progress import PhaseProgress
from freecure_edit.cli.fix.report import result_json
from freecure_edit.cli.messages import error_line, note, warn
from freecure_edit.cli.model_options import model_values
from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries
from freecure_edit.cure.estimate import Estimate, estimate_line, format_duration, measure_evaluation_seconds
from freecure_edit.cure.presets import apply_presets
from freecure_edit.errors import ConfigurationError, FreeCureError
from freecure_edit.imageio import pixel_limit
from freecure_edit.imageio.output_files import check_intermediates_folder, output_target, stored_parameters
from freecure_edit.model_choice import check_models, load_freecure, model_choice


@dataclass
class Generated:
    """One generation's outcome: its result and output, or the error that stopped it."""

    reference: Path
    prompt: str
    seed: int
    output: Path
    result: Any = None  # GenerationResult
    error: FreeCureError | None = None
    intermediates: list[Path] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class GenerateOutcome:
    items: list[Generated]
    estimate: Estimate
    notes: list[str]
    device: str
    seconds: float

    @property
    def exit_code(self) -> int:
        codes = {item.error.exit_code for item in self.items if item.error is not None}
        return 0 if not codes else codes.pop() if len(codes) == 1 else 1


def default_output(reference: Path, seed: int) -> Path:
    return reference.with_name(f"{reference.stem}.generated-{seed}.png")


def planned_items(params: dict[str, Any]) -> list[Generated]:
    """What to generate and where, checked: the rows of --prompts into -o's folder, or the one
    --id-image and --prompt."""
    from freecure_edit.generation.rows import read_generation_rows

    if params["prompts"] is not None:
        if params["id_image"] is not None or params["prompt"] is not None:
            raise ConfigurationError("--prompts gives the references and prompts: leave out --id-image and --prompt")
        if params["output"] is None:
            raise ConfigurationError("--prompts needs -o OUTPUT_DIR, the folder the images go into")
        folder = params["output"]
        if folder.exists() and not folder.is_dir():
            raise ConfigurationError(f"-o {folder}: with --prompts it is a folder, and this is a file")
        rows = read_generation_rows(params["prompts"], params["seed"])
        items = []
        for row in rows:
            (folder / row.output).parent.mkdir(parents=True, exist_ok=True)
            target = output_target(row.id_image, folder / row.output, overwrite=params["overwrite"])
            items.append(Generated(row.id_image, row.prompt, row.seed, target))
        return items
    if params["id_image"] is None or params["prompt"] is None:
        raise ConfigurationError("give --id-image and --prompt, or --prompts FILE with one row per image")
    reference, seed = params["id_image"], params["seed"]
    target = output_target(reference, params["output"] or default_output(reference, seed), overwrite=params["overwrite"])
    return [Generated(reference, params["prompt"], seed, target)]


def run_generate(params: dict[str, Any], given: set[str], on_item=None) -> GenerateOutcome:
    started = time.perf_counter()
    quiet_libraries(params["debug"])
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.generation.adapter import check_adapter_source
    from freecure_edit.generation.estimate import generation_evaluations, zero_identity
    from freecure_edit.imageio import load_image
    from freecure_edit.models.devices import pick_device
    from freecure_edit.prompts import parse_prompt

    device = pick_device(params["device"])
    values, notes = apply_presets(config_values(params), given, draft=False, device_type=device.type)
    config = CureConfig(**values)
    choice = model_choice(model_values(params), config.refine)
    items = planned_items(params)
    check_intermediates_folder(params["save_intermediates"])
    limit = pixel_limit(params["max_pixels"])
    single = params["prompts"] is None
    if single:
        load_image(items[0].reference, max_pixels=limit)  # a bad reference is refused before any model loads
    check_adapter_source(params["adapter"])
    choice = check_models(choice, detect=True)
    notes = [*notes, *filter(None, [choice.face_pack_note])]
    for text in notes:
        note(text)

    quiet_loaded_libraries(params["debug"])
    fc = load_freecure(choice, device, detect=True)
    adapter = fc.load_adapter(params["adapter"], params["adapter_weight_name"], image_encoder=params["image_encoder"])
    resolved = fc.resolve_config(config, photo=False)
    side = resolved.working_size or fc.backbone.native_size
    parsed = parse_prompt(items[0].prompt, template=config.template,
                          attributes=list(config.attributes) if config.attributes is not None else None)
    features = None
    if adapter.kind == "faceid-plus":
        features = fc.reference_features(load_image(items[0].reference, max_pixels=limit).rgb)
    seconds = measure_evaluation_seconds(fc.backbone, (side, side), parsed.template, resolved.photo_guidance,
                                         prepare=zero_identity(fc.backbone, adapter, features))
    estimate = replace(generation_evaluations(resolved, parsed), seconds_per_evaluation=seconds)
    count = f" each, {len(items)} images" if len(items) > 1 else ""
    note(estimate_line(estimate, fc.backbone.device.type) + count)
    models = {**choice.parameters(True), "adapter": params["adapter"]}
    for number, item in enumerate(items, start=1):
        began = time.perf_counter()
        try:
            _generate_one(fc, item, config, resolved, params, models, limit, label=None if single else f"{number}/{len(items)}")
        except FreeCureError as error:
            if single:
                raise
            item.error = error
        item.seconds = time.perf_counter() - began
        if on_item is not None:
            on_item(item)
    return GenerateOutcome(items, estimate, notes, device.type, time.perf_counter() - started)


def _generate_one(fc, item: Generated, config, resolved, params, models, limit, label) -> None:
    from freecure_edit.generation.estimate import generation_phases
    from freecure_edit.imageio import load_image, save_image
    from freecure_edit.prompts import parse_prompt

    loaded = load_image(item.reference, max_pixels=limit)
    for text in loaded.warnings:
        warn(text)
    parsed = parse_prompt(item.prompt, template=config.template,
                          attributes=list(config.attributes) if config.attributes is not None else None)
    with PhaseProgress(generation_phases(resolved, parsed)) as display:
        result = fc.generate(loaded.rgb, item.prompt, config, seed=item.seed, progress=display)
        display.finish()
    for text in result.warnings:
        warn(text if label is None else f"{label}: {text}")
    item.output.parent.mkdir(parents=True, exist_ok=True)
    # A new image: nothing of the reference's metadata is carried into it, only what made it.
    save_image(result.image, item.output, parameters=stored_parameters(item.prompt, config, {**models, "seed": str(item.seed)}),
               quality=params["jpeg_quality"], overwrite=params["overwrite"])
    folder = params["save_intermediates"]
    if folder is not None:
        where = folder if label is None else folder / item.output.stem
        item.intermediates = result.save_intermediates(where)
    item.result = result


def summary_line(item: Generated) -> str:
    if item.error is not None:
        return f"failed {item.reference} ({item.prompt!r}): {item.error}"
    result = item.result
    cured = ", ".join(repr(attribute.text) for attribute in result.attributes) or "nothing"
    parts = [f"generated with {cured} cured -> {item.output}"]
    if result.identity_similarity is not None:
        uncured = result.pd_identity_similarity
        parts.append(f"identity similarity {result.identity_similarity:.2f}"
                     + ("" if uncured is None else f" (uncured {uncured:.2f})"))
    parts.append(format_duration(item.seconds))
    return "; ".join(parts)


def item_fields(item: Generated) -> dict[str, Any]:
    fields = {"reference": str(item.reference), "prompt": item.prompt, "seed": item.seed, "output": str(item.output),
              "seconds": round(item.seconds, 3)}
    if item.error is not None:
        return {"ok": False, "exit_code": item.error.exit_code, "error": str(item.error), **fields}
    return {"ok": True, **fields, "intermediates": [str(p) for p in item.intermediates], **item.result.summary()}


def report_generation(outcome: GenerateOutcome, *, as_json: bool, rows: bool) -> None:
    if as_json:
        shared = {"device": outcome.device, "notes": outcome.notes, "estimate": outcome.estimate.to_dict(),
                  "seconds": round(outcome.seconds, 3)}
        if not rows:
            item = outcome.items[0]
            click.echo(result_json(item.result.summary(), None, reference=str(item.reference), output=str(item.output),
                                   intermediates=[str(p) for p in item.intermediates], **shared))
        else:
            import json

            status = {"ok": outcome.exit_code == 0}
            click.echo(json.dumps({**status, **shared, "items": [item_fields(i) for i in outcome.items]},
                                  ensure_ascii=False, default=str))
    elif rows:
        failed = sum(item.error is not None for item in outcome.items)
        click.echo(f"{len(outcome.items) - failed} of {len(outcome.items)} generated"
                   + (f", {failed} failed" if failed else "") + f"; {format_duration(outcome.seconds)}")
    if rows and outcome.exit_code:
        for item in outcome.items:
            if item.error is not None:
                error_line(f"{item.reference}: {item.error}")
