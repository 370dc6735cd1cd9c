"""One cure request, start to finish: the cheap refusals first (options, output path, input, mask), then
the library's cure job with its events, then the output file and/or the base64 image, and the reply's
fields."""

from __future__ import annotations

import time
from typing import Any

from freecure_edit.failures import identity_failure
from freecure_edit.imageio import pixel_limit
from freecure_edit.imageio.output_files import check_intermediates_folder, output_target, save_cured
from freecure_edit.service import CureJob, JobContext, load_job_photo, png_base64, run_cure_job
from freecure_edit.worker import protocol
from freecure_edit.worker.options import read_request_options
from freecure_edit.worker.request import CureRequest
from freecure_edit.worker.settings import WorkerDefaults


def run_cure_request(freecure, defaults: WorkerDefaults, request: CureRequest, job: JobContext) -> dict[str, Any]:
    """Cure as `request` asks, its events going through `job`; the reply (not yet sent)."""
    started = time.perf_counter()
    options = read_request_options(request.options, "options")
    config, notes = defaults.config(options)
    target = None
    if request.writes_file:
        target = output_target(request.input_path, request.output, overwrite=options.overwrite)
    check_intermediates_folder(options.save_intermediates)
    limit = pixel_limit(defaults.max_pixels if options.max_pixels is None else options.max_pixels)
    cure_job = CureJob(request.prompt, request.source, config, mask=request.mask_source, max_pixels=limit,
                       previews=request.preview)
    outcome = run_cure_job(freecure, cure_job, job, load_job_photo(cure_job))
    result, loaded = outcome.result, outcome.photo

    job.stop_if_cancelled()  # a cancel that came during the last step: nothing is written
    fields: dict[str, Any] = {}
    if request.input_path is not None:
        fields["input"] = str(request.input_path)
    if target is not None:
        save_cured(result.image, loaded, target, request.prompt, result.config, defaults.models(config),
                   quality=options.jpeg_quality or defaults.jpeg_quality, overwrite=options.overwrite,
                   metadata=defaults.metadata)
        fields["output"] = str(target)
    if request.answers_base64:
        fields["image_base64"] = png_base64(outcome.image())
    if options.save_intermediates is not None:
        fields["intermediates"] = [str(path) for path in result.save_intermediates(options.save_intermediates)]
    summary = result.summary()
    summary["warnings"] = outcome.input_warnings + summary["warnings"]
    fields.update(notes=notes, seconds=round(time.perf_counter() - started, 3), **summary)
    kept = f"was written to {target}" if target is not None else "is the returned image"
    failure = identity_failure(result, "min_identity", kept)
    return protocol.result(request.id, fields, None if failure is None else (failure.exit_code, str(failure)))
