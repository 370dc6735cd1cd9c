"""What a batch will do, worked out before any model loads: the inputs, each one's prompt, settings
and output. Every refusal (a bad option, a bad prompts-file row, an output folder holding an earlier
batch) happens here, so it costs a second, and so `--dry-run` shows exactly what a run would do."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from freecure_edit.batch.folder import BatchFolder
from freecure_edit.batch.layout import MANIFEST_NAME, plan_outputs
from freecure_edit.batch.prompts_file import PromptRow, read_prompts_file
from freecure_edit.batch.selection import select_inputs
from freecure_edit.batch.settings import BatchSettings
from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError, InputImageError
from freecure_edit.model_choice import ModelChoice, check_face_pack, check_models, check_working_size, model_choice
from freecure_edit.overrides import Overrides, read_overrides
from freecure_edit.cure.presets import apply_presets
from freecure_edit.imageio.output_checks import can_hold_transparency, check_writable, file_alpha, transparency_refusal
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA, check_metadata_policy
from freecure_edit.prompts import ParsedPrompt, parse_prompt

# How many names a note or an error lists before "and N more".
_NAMES_SHOWN = 3


@dataclass(frozen=True)
class BatchItem:
    input: str  # POSIX, relative to the input folder
    output: str  # POSIX, relative to the output folder
    prompt: str
    parsed: ParsedPrompt
    config: CureConfig
    jpeg_quality: int
    overrides: tuple[str, ...] = ()  # the settings its prompts-file row changed
    renamed_from: str | None = None
    refusal: str | None = None  # why it fails before any work (a transparent photo for a JPEG output)
    metadata: str = DEFAULT_METADATA  # what of the input's metadata the output keeps (imageio.metadata_policy)

    @property
    def needs_model(self) -> bool:
        """A prompt that names no attribute gives the photo back unchanged, without any model; a
        refused input needs none either."""
        return bool(self.parsed.attributes) and self.refusal is None


@dataclass(frozen=True)
class BatchPlan:
    input_dir: Path
    folder: BatchFolder
    items: list[BatchItem]
    choice: ModelChoice
    notes: list[str]


class NoPromptError(ConfigurationError):
    """Neither a prompt for every image nor a prompts file: the command line says it as a usage error."""


def plan_batch(settings: BatchSettings, device_type: str | None) -> BatchPlan:
    """`device_type` decides the CPU preset; None (a dry run that did not look for a GPU) applies none."""
    input_dir, output_dir = settings.input_dir, settings.output_dir
    _check_folders(input_dir, output_dir)
    check_writable(output_dir, "--output-dir")
    check_metadata_policy(settings.metadata)
    if settings.prompt is None and settings.prompts_file is None:
        raise NoPromptError("give --prompt TEXT for every image, or --prompts FILE with a prompt per image")
    values, notes = apply_presets(settings.config_values(), set(settings.chosen), draft=settings.draft,
                                  device_type=device_type or "unknown")
    base = CureConfig(**values)
    skipped: list[str] = []
    selected = select_inputs(input_dir, recursive=settings.recursive, patterns=settings.patterns,
                             exclude=output_dir, skipped=skipped)
    if skipped:
        notes.append(f"left out of the batch: {'; '.join(skipped)}")
    rows = _rows(settings.prompts_file, input_dir, selected, notes)
    unprompted = [name for name in selected if name not in rows and settings.prompt is None]
    if unprompted:
        notes.append(f"{_names(unprompted)} {'has' if len(unprompted) == 1 else 'have'} no row in "
                     f"{settings.prompts_file.name} and there is no --prompt: left out")
    chosen = [name for name in selected if name not in unprompted]
    if not chosen:
        hint = "" if settings.recursive else "; --recursive takes the subfolders too"
        raise InputImageError(f"{input_dir}: no image to cure{hint}")

    overrides = {name: read_overrides(rows[name].settings, rows[name].where) if name in rows else Overrides()
                 for name in chosen}
    explicit = {name: found.output for name, found in overrides.items() if found.output is not None}
    outputs = plan_outputs(chosen, f".{settings.output_format}", explicit)
    items = [
        _item(name, rows.get(name), settings, base, overrides[name], outputs[name].path, outputs[name].renamed_from)
        for name in chosen
    ]
    folder = BatchFolder(output_dir)
    _check_earlier_work(folder, items, resume=settings.resume, overwrite=settings.overwrite)
    items = _refuse_transparency(items, input_dir, folder, settings.max_pixels, notes)
    refine = "sam" if any(item.config.refine == "sam" for item in items) else "none"
    return BatchPlan(input_dir, folder, items, model_choice(settings.models, refine), notes)


def _check_folders(input_dir: Path, output_dir: Path) -> None:
    if not input_dir.exists():
        raise InputImageError(f"{input_dir}: no such folder")
    if not input_dir.is_dir():
        raise InputImageError(f"{input_dir}: is not a folder (`freecure-edit fix` cures one photo)")
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigurationError(f"{output_dir}: is a file; the output must be a folder")
    inside = os.path.realpath(input_dir)
    outside = os.path.realpath(output_dir)
    if inside == outside or inside.startswith(outside.rstrip(os.sep) + os.sep):
        raise ConfigurationError(
            f"{output_dir}: the output folder must not be the input folder or hold it (outputs could replace inputs)"
        )


def _rows(prompts_file: Path | None, input_dir: Path, selected: list[str], notes: list[str]) -> dict[str, PromptRow]:
    if prompts_file is None:
        return {}
    rows = {row.file: row for row in read_prompts_file(prompts_file)}
    for row in rows.values():
        if not (input_dir / row.file).is_file():
            raise ConfigurationError(f"{row.where}: {input_dir / row.file} does not exist")
    chosen = set(selected)
    unused = [name for name in rows if name not in chosen]
    if unused:
        notes.append(f"{prompts_file.name} names {_names(unused)}, which --glob/--recursive leave out")
    return {name: row for name, row in rows.items() if name in chosen}


def _item(name: str, row: PromptRow | None, settings: BatchSettings, base: CureConfig, overrides: Overrides,
          output: str, renamed_from: str | None) -> BatchItem:
    prompt = (row.prompt if row is not None else None) or settings.prompt
    if prompt is None:
        raise ConfigurationError(f"{row.where}: no prompt, and no --prompt to fall back on")
    try:
        config = CureConfig.from_dict({**base.to_dict(), **overrides.config}) if overrides.config else base
        attributes = list(config.attributes) if config.attributes is not None else None
        parsed = parse_prompt(prompt, template=config.template, attributes=attributes)
    except ConfigurationError as error:
        raise ConfigurationError(f"{row.where}: {error}" if row is not None else str(error)) from None
    quality = overrides.jpeg_quality or settings.jpeg_quality
    return BatchItem(name, output, prompt, parsed, config, quality, tuple(overrides.names), renamed_from,
                     metadata=settings.metadata)


def _refuse_transparency(items: list[BatchItem], input_dir: Path, folder: BatchFolder, max_pixels: int | None,
                         notes: list[str]) -> list[BatchItem]:
    """Inputs with transparency whose output is a JPEG are refused now, each recorded as failed
    without a cure (see freecure_edit/imageio/output_checks.py for why not flattened). Only those inputs are read."""
    from freecure_edit.imageio import pixel_limit

    checked = []
    for item in items:
        refusal = None
        if not can_hold_transparency(item.output):
            alpha = file_alpha(input_dir / item.input, pixel_limit(max_pixels))
            refusal = transparency_refusal(alpha, folder.root / item.output, item.input, "--format png or webp")
        checked.append(replace(item, refusal=refusal) if refusal else item)
    refused = [item.input for item in checked if item.refusal]
    if refused:
        notes.append(f"{_names(refused)} {'has' if len(refused) == 1 else 'have'} transparency, which JPEG cannot "
                     "store: recorded as failed without a cure; --format png or webp keeps it")
    return checked


def _check_earlier_work(folder: BatchFolder, items: list[BatchItem], *, resume: bool, overwrite: bool) -> None:
    """Without --resume or --overwrite, a batch writes only where nothing is."""
    if resume or overwrite:
        return
    if folder.holds_batch():
        raise ConfigurationError(
            f"{folder.root} holds an earlier batch ({MANIFEST_NAME}); pass --resume to go on with it, "
            "or --overwrite to start again"
        )
    existing = [item.output for item in items if os.path.lexists(folder.root / item.output)]
    if existing:
        raise ConfigurationError(
            f"{_names([str(folder.root / name) for name in existing])} already "
            f"{'exists' if len(existing) == 1 else 'exist'}; pass --overwrite to replace them"
        )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def with_face_pack(plan: BatchPlan) -> BatchPlan:
    """The plan with its face pack chosen and checked (model_choice.check_face_pack) when an item detects
    faces: the pack every output records, and so part of each item's parameters hash. A missing pack is
    a ModelNotFoundError, before anything is written."""
    if not any(item.needs_model and item.config.detect for item in plan.items):
        return plan
    return replace(plan, choice=check_face_pack(plan.choice))


def with_models_checked(plan: BatchPlan) -> BatchPlan:
    """with_face_pack, and every other model the batch loads on disk or downloadable now; all that are
    missing named at once (model_choice.check_models). A batch whose prompts name no attribute loads none."""
    working = [item for item in plan.items if item.needs_model]
    if not working:
        return plan
    return replace(plan, choice=check_models(plan.choice, detect=any(item.config.detect for item in working)))


def check_memory(plan: BatchPlan, device) -> None:
    """The largest working size any item asks for, within the device's memory (model_choice.check_working_size)."""
    sizes = [item.config.working_size for item in plan.items if item.needs_model and item.config.working_size]
    check_working_size(plan.choice, max(sizes, default=None), device)
