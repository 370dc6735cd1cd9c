"""Start a batch in N processes with accelerate, as `accelerate launch --multi_gpu --num_processes N
PROGRAM...` would; each process runs PROGRAM, which calls run_batch (`freecure-edit batch
--num-processes N` runs `-m freecure_edit.cli batch ...`; a Python user's script works the same).

accelerate's launcher runs in this process, so that a process that fails is reported by its own
error line and exit code rather than by torch's launcher traceback. The launch goes through
accelerate's multi-process launcher on the CPU too: its `--cpu` launcher starts one process unless
MPI is installed, and each process makes itself a CPU process (PartialState(cpu=True)) when the
batch runs on the CPU.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from freecure_edit.errors import ConfigurationError

# The variables a launcher (torchrun, MPI) sets in the processes it starts.
_WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
EXIT_INTERRUPTED = 130


def launched() -> bool:
    """Whether this process is one of several a launcher started."""
    return any(int(os.environ.get(name, "1") or 1) > 1 for name in _WORLD_SIZE_VARIABLES)


def launch_batch(program: list[str], count: int, *, device: str | None = None, debug: bool = False) -> int:
    """Run `program` (["-m", module, *arguments] or [script, *arguments]) in `count` processes; the main
    process's exit code. `device` is the batch's (None: a GPU per process if there are enough)."""
    if launched():
        raise ConfigurationError("--num-processes starts the processes itself; under a launcher, leave it out")
    _check_devices(device, count)
    arguments = [
        "--multi_gpu", "--num_processes", str(count), "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        # Each process gets an equal share of the cores, not all of them each.
        "--num_cpu_threads_per_process", str(max(1, (os.cpu_count() or 1) // count)),
        *program,
    ]
    from accelerate.commands.launch import launch_command, launch_command_parser

    if not debug:
        logging.getLogger("torch.distributed").setLevel(logging.CRITICAL)
    try:
        launch_command(launch_command_parser().parse_args(arguments))
    except Exception as error:  # noqa: BLE001 - the launcher's failures carry the processes' exit codes
        return _exit_code(error)
    return 0


def _check_devices(device: str | None, count: int) -> None:
    """Refuse what the processes would fail at: a device that cannot be shared out, too few GPUs.
    Each process picks its device as a single run does (a GPU if there is one, else the CPU)."""
    import torch

    if device is not None and not device.startswith(("cuda", "cpu")):
        raise ConfigurationError(f"--num-processes runs on CUDA GPUs or on the CPU, not on {device}")
    if device is not None and device.startswith("cpu"):
        return
    if not torch.cuda.is_available():
        if device is not None:
            raise ConfigurationError("--device cuda was requested but torch sees no CUDA GPU")
        return
    if count > torch.cuda.device_count():
        raise ConfigurationError(
            f"--num-processes {count} needs {count} GPUs, and torch sees {torch.cuda.device_count()}; "
            "pass --device cpu to run the processes on the CPU"
        )


def _free_port() -> int:
    """A port for the processes to meet on, free now, so that two batches on one machine do not clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _exit_code(error: Exception) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if isinstance(error, SignalException):
        return EXIT_INTERRUPTED
    if not isinstance(error, ChildFailedError):
        raise error
    first = error.failures[min(error.failures)]
    if first.exitcode >= 0:
        return first.exitcode
    return EXIT_INTERRUPTED if -first.exitcode in (signal.SIGINT, signal.SIGTERM) else 1
