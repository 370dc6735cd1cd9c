"""One image of a batch: load it, cure it (or copy it when the prompt names no attribute), and write
the output into the process's scratch folder; then, separately, give it its name in the output
folder. Anything that goes wrong with this image becomes its manifest line, and the batch goes on,
except a full disk, which would fail every image after it: that raises DiskFullError.

Messages name the real output, never the scratch file it is first written to."""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from freecure_edit.batch.files import input_record, output_record
from freecure_edit.batch.lines import manifest_line
from freecure_edit.batch.plan import BatchItem, BatchPlan
from freecure_edit.errors import DiskFullError
from freecure_edit.failures import describe_failure, identity_failure
from freecure_edit.imageio.atomic import fsync_directory
from freecure_edit.imageio.output_files import save_cured
from freecure_edit.imageio.output_checks import check_transparency, disk_full_cause
from freecure_edit.cure.unchanged import unchanged_result

FORMAT_HINT = "--format png or webp"


@dataclass(frozen=True)
class Worker:
    """What every image of one process shares."""

    plan: BatchPlan
    freecure: Any  # FreeCure, or None when no image of this process needs a model
    scratch: Path
    process: int
    max_pixels: int | None
    debug: bool

    def target(self, item: BatchItem) -> Path:
        return self.plan.folder.root / item.output


def disk_full(target: Path, cause: OSError) -> DiskFullError:
    return DiskFullError(f"{target}: cannot write it: {cause.strerror or 'no space left on the device'}; "
                         "free some space, then run again with --resume")


def cure_item(worker: Worker, item: BatchItem, parameters: dict[str, Any], digest: str
              ) -> tuple[dict[str, Any], Path | None]:
    """The image's manifest line, and the written output waiting in the scratch folder (None if failed)."""
    from freecure_edit.imageio import load_image

    started = time.perf_counter()
    source = worker.plan.input_dir / item.input
    target = worker.target(item)
    staged = worker.scratch / PurePosixPath(item.output).name
    recorded = input_record(source)
    try:
        if item.refusal is not None:
            raise _Refused(item.refusal)
        loaded = load_image(source, max_pixels=worker.max_pixels)
        check_transparency(loaded.alpha, target, item.input, FORMAT_HINT)
        if item.needs_model:
            result = worker.freecure.cure(loaded, item.prompt, item.config)
        else:
            result = unchanged_result(loaded, item.prompt, item.parsed, item.config)
        save_cured(result.image, loaded, staged, item.prompt, result.config,
                   worker.plan.choice.parameters(item.config.detect), quality=item.jpeg_quality, overwrite=True,
                   metadata=item.metadata)
    except Exception as error:  # noqa: BLE001 - one bad image must not end the batch
        no_space = disk_full_cause(error)
        if no_space is not None:
            raise disk_full(target, no_space) from error
        code, message = (_Refused.exit_code, str(error)) if isinstance(error, _Refused) else describe_failure(error)
        if worker.debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        _release_device_memory()
        line = manifest_line(item, parameters, digest, "failed", process=worker.process,
                             seconds=time.perf_counter() - started, error=_real_names(message, staged, target),
                             exit_code=code, input_file=recorded)
        return line, None
    failure = identity_failure(result, "--min-identity", "was written")
    line = manifest_line(
        item, parameters, digest, "low_identity" if failure else "ok", process=worker.process,
        seconds=time.perf_counter() - started, error=str(failure) if failure else None,
        exit_code=failure.exit_code if failure else 0, identity=result.identity_similarity,
        attributes=[attribute.text for attribute in result.attributes],
        warnings=list(loaded.warnings) + list(result.warnings), input_file=recorded,
    )
    return line, staged


class _Refused(Exception):
    """An input the plan refused already (transparency for a JPEG output): no need to load it."""

    exit_code = 2


def _real_names(message: str, staged: Path, target: Path) -> str:
    return message.replace(os.fspath(staged), os.fspath(target))


def place_output(worker: Worker, item: BatchItem, line: dict[str, Any], staged: Path | None) -> dict[str, Any]:
    """Give the staged output its name in the output folder; the line, changed to a failure if that
    cannot be done, and recording the output's size and time as written."""
    if staged is None:
        return line
    target = worker.target(item)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)  # same file system: the scratch folder is inside the output folder
    except OSError as error:
        staged.unlink(missing_ok=True)
        no_space = disk_full_cause(error)
        if no_space is not None:
            raise disk_full(target, no_space) from error
        return {**line, "status": "failed", "exit_code": 1,
                "error": f"{target}: cannot write it ({error.strerror or error})"}
    fsync_directory(target.parent)
    return {**line, "output_file": output_record(target)}


def _release_device_memory() -> None:
    """After a failure (out of memory, mostly), give the GPU's cached blocks back for the next image."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
