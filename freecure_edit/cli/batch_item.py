"""One image of a batch: load it, cure it (or copy it when the prompt names no attribute), and write
the output into the process's scratch folder; then, separately, give it its name in the output
folder. Anything that goes wrong with this image becomes its manifest line, and the batch goes on."""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from freecure_edit.cli.batch_lines import manifest_line
from freecure_edit.cli.batch_plan import BatchItem, BatchPlan
from freecure_edit.cli.failures import describe_failure
from freecure_edit.cli.fix_output import save_cured
from freecure_edit.cli.fix_report import identity_failure
from freecure_edit.cli.unchanged import unchanged_result
from freecure_edit.imageio.atomic import fsync_directory


@dataclass(frozen=True)
class Worker:
    """What every image of one process shares."""

    plan: BatchPlan
    freecure: Any  # FreeCure, or None when no image of this process needs a model
    scratch: Path
    process: int
    max_pixels: int | None
    debug: bool


def cure_item(worker: Worker, item: BatchItem, parameters: dict[str, Any], digest: str
              ) -> tuple[dict[str, Any], Path | None]:
    """The image's manifest line, and the written output waiting in the scratch folder (None if failed)."""
    from freecure_edit.io import load_image

    started = time.perf_counter()
    try:
        loaded = load_image(worker.plan.input_dir / item.input, max_pixels=worker.max_pixels)
        if item.needs_model:
            result = worker.freecure.cure(loaded, item.prompt, item.config)
        else:
            result = unchanged_result(loaded, item.prompt, item.parsed, item.config)
        staged = worker.scratch / PurePosixPath(item.output).name
        save_cured(result.image, loaded, staged, item.prompt, item.config,
                   worker.plan.choice.parameters(item.config.detect), quality=item.jpeg_quality, overwrite=True)
    except Exception as error:  # noqa: BLE001 - one bad image must not end the batch
        code, message = describe_failure(error)
        if worker.debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        _release_device_memory()
        line = manifest_line(item, parameters, digest, "failed", process=worker.process,
                             seconds=time.perf_counter() - started, error=message, exit_code=code)
        return line, None
    failure = identity_failure(result, "--min-identity", "was written")
    line = manifest_line(
        item, parameters, digest, "low_identity" if failure else "ok", process=worker.process,
        seconds=time.perf_counter() - started, error=str(failure) if failure else None,
        exit_code=failure.exit_code if failure else 0, identity=result.identity_similarity,
        attributes=[attribute.text for attribute in result.attributes],
        warnings=list(loaded.warnings) + list(result.warnings),
    )
    return line, staged


def place_output(worker: Worker, item: BatchItem, line: dict[str, Any], staged: Path | None) -> dict[str, Any]:
    """Give the staged output its name in the output folder; the line, changed to a failure if that
    cannot be done."""
    if staged is None:
        return line
    target = worker.plan.folder.root / item.output
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # same file system: the scratch folder is inside the output folder
    except OSError as error:
        staged.unlink(missing_ok=True)
        return {**line, "status": "failed", "exit_code": 1,
                "error": f"{target}: cannot write it ({error.strerror or error})"}
    fsync_directory(target.parent)
    return line


def _release_device_memory() -> None:
    """After a failure (out of memory, mostly), give the GPU's cached blocks back for the next image."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
