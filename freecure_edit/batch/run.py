"""run_batch: cure every input of a batch, in every process of it.

    report = run_batch(BatchSettings("photos", "cured", prompt="a man with black curly hair",
                                     models={"model": "path/to/model"}), on_event=print, stop=event)

One process, or several started by `accelerate launch` (or by launch_batch): accelerate's
PartialState says which one this is. Every process works out the same list of inputs still to do
(what resume keeps), takes its share with split_between_processes and loads the models once; then
the main process gets the output folder ready (folding in what a killed run left) while the others
wait, and each cures its images, appending a manifest line per image to its own shard. Once all
have finished, the main process merges the shards into manifest.jsonl and reports.

A stop (the `stop` hook, or StopControl.abandon) ends the batch between two images (or at once): the
inputs not done get a `skipped` line, the manifest is merged, and BatchStopped is raised.
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
import time
from typing import Any

from freecure_edit.batch import events
from freecure_edit.batch.events import BatchEvent, BatchListener
from freecure_edit.batch.item import Worker, cure_item, place_output
from freecure_edit.batch.lines import manifest_line, skipped_line
from freecure_edit.batch.manifest import ShardWriter, merge_shards
from freecure_edit.batch.outcome import BatchReport, batch_exit_code
from freecure_edit.batch.plan import BatchPlan, check_memory, plan_batch, with_models_checked
from freecure_edit.batch.progress import ShardProgress
from freecure_edit.batch.resume import entries, to_do
from freecure_edit.batch.settings import BatchSettings
from freecure_edit.batch.stopping import BatchStopped, StopControl, StopHook, stop_control
from freecure_edit.errors import ConfigurationError, DiskFullError
from freecure_edit.imageio import pixel_limit
from freecure_edit.model_choice import load_freecure
from freecure_edit.imageio.output_checks import disk_full_cause

# Processes that finish their share wait for the others at a barrier; a share can take hours longer
# than another's, and the default timeout of the process group (30 min) would end the batch.
BARRIER_TIMEOUT = datetime.timedelta(days=7)


def run_batch(settings: BatchSettings, *, on_event: BatchListener | None = None,
              stop: StopControl | StopHook = None) -> BatchReport:
    """Run the batch (in this process's share of it); every process returns a report, whose exit code
    the launcher takes from the main process."""
    from accelerate import PartialState
    from accelerate.utils import gather_object

    from freecure_edit.models.devices import pick_device

    emit = on_event or _ignore
    stops = stop_control(stop)
    device = pick_device(settings.device)
    plan = with_models_checked(plan_batch(settings, device.type))
    check_memory(plan, device)
    state = PartialState(cpu=device.type == "cpu", timeout=BARRIER_TIMEOUT)
    device = _process_device(device, state, settings.device)
    main = state.is_main_process
    if main:
        for text in [*plan.notes, *filter(None, [plan.choice.face_pack_note])]:
            emit(BatchEvent(events.NOTE, {"text": text}))
    todo, kept = to_do(plan, entries(plan, device), resume=settings.resume)
    state.wait_for_everyone()  # every process has read what is done before the main one writes
    with state.split_between_processes(todo) as share:
        share = list(share)
    started = time.perf_counter()
    with stops.watch():
        # Before anything is written: a model that does not load leaves the output folder as it was.
        freecure = _load_models(plan, share, device, emit)
        if main:
            if kept:
                emit(BatchEvent(events.NOTE, {"text": f"--resume: {kept} of {len(plan.items)} inputs are done "
                                                      "already and kept"}))
            _prepare(plan, resume=settings.resume, emit=emit)
        state.wait_for_everyone()
        if main:
            emit(BatchEvent(events.CURING, {"total": len(todo)}))
        try:
            progress = ShardProgress(len(todo), plan.folder, _progress(emit) if main else None)
            with progress:
                done = _cure_process_share(plan, share, freecure, state, settings, stops, emit)
                state.wait_for_everyone()
        finally:
            if main:
                emit(BatchEvent(events.CURED))
    per_process = gather_object([done])
    if not main:
        return BatchReport(plan, {}, kept, per_process, time.perf_counter() - started, 0, None, main_process=False)
    lines = merge_shards(plan.folder).lines
    plan.folder.remove_work_if_idle()
    code, message = batch_exit_code(plan.items, lines)
    return BatchReport(plan, lines, kept, per_process, time.perf_counter() - started, code, message)


def _cure_process_share(plan: BatchPlan, share: list[tuple], freecure, state, settings: BatchSettings,
                        stops: StopControl, emit: BatchListener) -> int:
    single = state.num_processes == 1
    shard = ShardWriter(plan.folder.new_shard(state.process_index))
    try:
        done = _cure_share(plan, share, shard, freecure, state.process_index, settings, stops, emit)
    except DiskFullError as error:
        final = _recorded_on_the_way_out(plan, shard, stops, error, single=single)
        if final is error:
            raise
        raise final from error
    except Exception:
        if single:
            plan.folder.remove_work_if_idle()
        raise
    if done < len(share) or stops.stop_requested:
        _stopped(plan, shard, stops, single=single)
        emit(BatchEvent(events.NOTE, {"text": f"stopped after {done} of the {len(share)} images of this process; "
                                              "--resume goes on with the rest"}))
        raise BatchStopped("interrupted")
    return done


def _ignore(event: BatchEvent) -> None:
    pass


def _progress(emit: BatchListener):
    return lambda done, total: emit(BatchEvent(events.PROGRESS, {"done": done, "total": total}))


def _process_device(device, state, requested: str | None):
    """With several processes on GPUs, each takes the GPU accelerate gives it."""
    if state.num_processes == 1 or device.type != "cuda":
        return device
    if requested is not None and ":" in requested:
        raise ConfigurationError(
            f"--device {requested} names one GPU, but each of the {state.num_processes} processes takes its own: "
            "pass --device cuda, or leave it out"
        )
    return state.device


def _prepare(plan: BatchPlan, *, resume: bool, emit: BatchListener) -> None:
    """Make the output folder ready while no other process writes to it: remove what processes killed
    mid-image left, then fold a killed run's shards into the manifest (--resume), or start afresh
    (--overwrite: the plan refused anything else)."""
    folder = plan.folder
    folder.work.mkdir(parents=True, exist_ok=True)
    folder.clear_scratch()
    if resume:
        merged = merge_shards(folder)
        if merged.unreadable:
            emit(BatchEvent(events.NOTE, {"text": f"left out {merged.unreadable} unreadable manifest line(s): "
                                                  "an image in flight when a run was killed"}))
        return
    folder.manifest.unlink(missing_ok=True)
    for shard in folder.shard_files():
        shard.unlink(missing_ok=True)


def _cure_share(plan: BatchPlan, share: list[tuple], shard: ShardWriter, freecure, process: int,
                settings: BatchSettings, stops: StopControl, emit: BatchListener) -> int:
    """Cure this process's share; how many inputs were cured (or failed). When a stop ends it, the
    others get a `skipped` line; when the disk fills up (DiskFullError, raised), the image in progress
    gets a `failed` line and the others `skipped`, as far as the disk still takes them; whatever ends
    it, the scratch folder goes (first: that frees the space its partial image took)."""
    scratch = plan.folder.new_scratch(process)
    done, interrupted, full = 0, False, None
    in_flight = False  # whether share[done] is being cured: a stop then abandons it
    try:
        worker = Worker(plan, freecure, scratch, process, pixel_limit(settings.max_pixels), settings.debug)
        for item, parameters, digest in share:
            if stops.stop_requested:
                break
            in_flight = True
            try:
                line, staged = cure_item(worker, item, parameters, digest)
                with stops.critical():
                    line = place_output(worker, item, line, staged)
                    shard.append(line)
                    done += 1
                    # Inside the critical section: a stop deferred to its end finds no image in flight.
                    in_flight = False
                emit(BatchEvent(events.ITEM, {"line": line}))
            except DiskFullError as error:
                full = error
                raise
            except OSError as error:
                if disk_full_cause(error) is None:
                    raise
                full = DiskFullError(f"{plan.folder.manifest}: cannot record {item.input}: "
                                     f"{error.strerror}; free some space, then run again with --resume")
                raise full from error
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with stops.cleaning_up():
            shutil.rmtree(scratch, ignore_errors=True)
            # Not after any other fatal error (the shard may not be writable): the batch did not stop,
            # it failed.
            if full is not None:
                item, parameters, digest = share[done]
                _append_if_possible(shard, manifest_line(item, parameters, digest, "failed", process=process,
                                                         error=str(full), exit_code=full.exit_code))
                for item, parameters, digest in share[done + 1:]:
                    _append_if_possible(shard, skipped_line(item, parameters, digest, process=process))
            elif interrupted or stops.stop_requested:
                for index, (item, parameters, digest) in enumerate(share[done:]):
                    abandoned = interrupted and in_flight and index == 0
                    shard.append(skipped_line(item, parameters, digest, process=process, abandoned=abandoned))
            shard.close()
    return done


def _append_if_possible(shard: ShardWriter, line: dict[str, Any]) -> None:
    """On a full disk a line may not fit either; the input then has no line, and --resume redoes it."""
    with contextlib.suppress(OSError):
        shard.append(line)


def _recorded_on_the_way_out(plan: BatchPlan, shard: ShardWriter, stops: StopControl, error: DiskFullError, *,
                             single: bool) -> DiskFullError:
    """The disk is full: merge what this process recorded into manifest.jsonl and remove the working
    files, as a stop does. The error to end the batch with, saying so when the manifest does not fit."""
    try:
        _stopped(plan, shard, stops, single=single)
    except OSError as failure:
        return DiskFullError(f"{error}; {plan.folder.manifest} could not be written either "
                             f"({failure.strerror or failure}): --resume reads what was recorded")
    return error


def _load_models(plan: BatchPlan, share: list[tuple], device, emit: BatchListener):
    needing = [item for item, _, _ in share if item.needs_model]
    if not needing:
        return None
    detect = any(item.config.detect for item in needing)
    emit(BatchEvent(events.LOADING))
    return load_freecure(plan.choice, device, detect=detect)


def _stopped(plan: BatchPlan, shard: ShardWriter, stops: StopControl, *, single: bool) -> None:
    """A stop: no waiting for the other processes (they may be gone). This process's lines
    go into the manifest now; the others' as they stop, or with the next --resume."""
    with stops.cleaning_up():
        merge_shards(plan.folder, delete=[shard.path])
        if single:
            plan.folder.remove_work_if_idle()
