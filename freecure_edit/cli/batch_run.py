"""The work of `batch`, in every process of it.

One process, or several started by `accelerate launch` (or by --num-processes): accelerate's
PartialState says which one this is. Every process works out the same list of inputs still to do
(what --resume keeps), takes its share with split_between_processes and loads the models once; then
the main process gets the output folder ready (folding in what a killed run left) while the others
wait, and each cures its images, appending a manifest line per image to its own shard. Once all
have finished, the main process merges the shards into manifest.jsonl and prints the summary.
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
import time
from typing import Any

from freecure_edit.batch.manifest import ShardWriter, merge_shards
from freecure_edit.cli.batch_item import Worker, cure_item, place_output
from freecure_edit.cli.batch_lines import manifest_line, skipped_line
from freecure_edit.cli.batch_plan import BatchPlan, build_plan
from freecure_edit.cli.batch_progress import BatchProgress
from freecure_edit.cli.batch_report import batch_exit_code, print_summary
from freecure_edit.cli.batch_resume import entries, to_do
from freecure_edit.cli.batch_signals import StopRequests
from freecure_edit.cli.image_options import pixel_limit
from freecure_edit.cli.messages import error_line, note
from freecure_edit.cli.model_options import check_face_pack, load_freecure
from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries
from freecure_edit.errors import ConfigurationError, DiskFullError
from freecure_edit.outputs import disk_full_cause

# Processes that finish their share wait for the others at a barrier; a share can take hours longer
# than another's, and the default timeout of the process group (30 min) would end the batch.
BARRIER_TIMEOUT = datetime.timedelta(days=7)


def run_batch(params: dict[str, Any], given: set[str]) -> int:
    """The batch's exit code (every process returns one; the launcher reports the main process's)."""
    quiet_libraries(params["debug"])
    from accelerate import PartialState
    from accelerate.utils import gather_object

    from freecure_edit.devices import pick_device

    device = pick_device(params["device"])
    plan = build_plan(params, given, device.type)
    if any(item.needs_model and item.config.detect for item in plan.items):
        check_face_pack(plan.choice)  # before anything is written, as a missing model would be
    state = PartialState(cpu=device.type == "cpu", timeout=BARRIER_TIMEOUT)
    device = _process_device(device, state, params["device"])
    if state.is_main_process:
        for text in plan.notes:
            note(text)
    todo, kept = to_do(plan, entries(plan, device), resume=params["resume"])
    state.wait_for_everyone()  # every process has read what is done before the main one writes
    with state.split_between_processes(todo) as share:
        share = list(share)
    started = time.perf_counter()
    with StopRequests() as stops:
        # Before anything is written: a model that does not load leaves the output folder as it was.
        freecure = _load_models(plan, share, device, params["debug"])
        if state.is_main_process:
            if kept:
                note(f"--resume: {kept} of {len(plan.items)} inputs are done already and kept")
            _prepare(plan, resume=params["resume"])
        state.wait_for_everyone()
        with BatchProgress(len(todo), plan.folder, enabled=state.is_main_process):
            shard = ShardWriter(plan.folder.new_shard(state.process_index))
            try:
                done = _cure_share(plan, share, shard, freecure, state.process_index, params, stops)
            except DiskFullError as error:
                final = _recorded_on_the_way_out(plan, shard, stops, error, single=state.num_processes == 1)
                if final is error:
                    raise
                raise final from error
            except Exception:
                if state.num_processes == 1:
                    plan.folder.remove_work_if_idle()
                raise
            if done < len(share) or stops.stop_requested:
                _stopped(plan, shard, stops, single=state.num_processes == 1)
                note(f"stopped after {done} of the {len(share)} images of this process; "
                     "--resume goes on with the rest")
                raise KeyboardInterrupt
            state.wait_for_everyone()
    per_process = gather_object([done])
    if not state.is_main_process:
        return 0
    lines = merge_shards(plan.folder).lines
    plan.folder.remove_work_if_idle()
    print_summary(plan, lines, kept, per_process, time.perf_counter() - started)
    code, message = batch_exit_code(plan.items, lines)
    if message:
        error_line(message)
    return code


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


def _prepare(plan: BatchPlan, *, resume: bool) -> None:
    """Make the output folder ready while no other process writes to it: remove what processes killed
    mid-image left, then fold a killed run's shards into the manifest (--resume), or start afresh
    (--overwrite: the plan refused anything else)."""
    folder = plan.folder
    folder.work.mkdir(parents=True, exist_ok=True)
    folder.clear_scratch()
    if resume:
        merged = merge_shards(folder)
        if merged.unreadable:
            note(f"left out {merged.unreadable} unreadable manifest line(s): an image in flight when a run was killed")
        return
    folder.manifest.unlink(missing_ok=True)
    for shard in folder.shard_files():
        shard.unlink(missing_ok=True)


def _cure_share(plan: BatchPlan, share: list[tuple], shard: ShardWriter, freecure, process: int,
                params: dict[str, Any], stops: StopRequests) -> int:
    """Cure this process's share; how many inputs were cured (or failed). When a stop ends it, the
    others get a `skipped` line; when the disk fills up (DiskFullError, raised), the image in progress
    gets a `failed` line and the others `skipped`, as far as the disk still takes them; whatever ends
    it, the scratch folder goes (first: that frees the space its partial image took)."""
    scratch = plan.folder.new_scratch(process)
    done, interrupted, full = 0, False, None
    in_flight = False  # whether share[done] is being cured: a stop then abandons it
    try:
        worker = Worker(plan, freecure, scratch, process, pixel_limit(params["max_pixels"]), params["debug"])
        for item, parameters, digest in share:
            if stops.stop_requested:
                break
            in_flight = True
            try:
                line, staged = cure_item(worker, item, parameters, digest)
                with stops.critical():
                    shard.append(place_output(worker, item, line, staged))
                    done += 1
                    # Inside the critical section: a stop deferred to its end finds no image in flight.
                    in_flight = False
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


def _recorded_on_the_way_out(plan: BatchPlan, shard: ShardWriter, stops: StopRequests, error: DiskFullError, *,
                             single: bool) -> DiskFullError:
    """The disk is full: merge what this process recorded into manifest.jsonl and remove the working
    files, as a stop does. The error to end the batch with, saying so when the manifest does not fit."""
    try:
        _stopped(plan, shard, stops, single=single)
    except OSError as failure:
        return DiskFullError(f"{error}; {plan.folder.manifest} could not be written either "
                             f"({failure.strerror or failure}): --resume reads what was recorded")
    return error


def _load_models(plan: BatchPlan, share: list[tuple], device, debug: bool):
    needing = [item for item, _, _ in share if item.needs_model]
    if not needing:
        return None
    detect = any(item.config.detect for item in needing)
    quiet_loaded_libraries(debug)
    return load_freecure(plan.choice, device, detect=detect)


def _stopped(plan: BatchPlan, shard: ShardWriter, stops: StopRequests, *, single: bool) -> None:
    """Ctrl-C or SIGTERM: no waiting for the other processes (they may be gone). This process's lines
    go into the manifest now; the others' as they stop, or with the next --resume."""
    with stops.cleaning_up():
        merge_shards(plan.folder, delete=[shard.path])
        if single:
            plan.folder.remove_work_if_idle()
