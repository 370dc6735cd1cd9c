"""The output folder of a batch: the outputs and manifest.jsonl, and nothing else; every working file
(per-process manifest shards, images being written, the lock) lives under its .freecure/ folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.batch.layout import MANIFEST_NAME, WORK_FOLDER_NAME
from freecure_edit.imageio.atomic import final_permissions, fsync_directory

try:
    import fcntl
except ImportError:  # Windows: batches there run in one process, which needs no lock
    fcntl = None


@dataclass(frozen=True)
class BatchFolder:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def work(self) -> Path:
        return self.root / WORK_FOLDER_NAME

    @property
    def shards(self) -> Path:
        return self.work / "shards"

    @property
    def scratch_root(self) -> Path:
        return self.work / "tmp"

    def shard_files(self) -> list[Path]:
        return sorted(self.shards.glob("*.jsonl")) if self.shards.is_dir() else []

    def holds_batch(self) -> bool:
        """Whether an earlier batch wrote here (a manifest, or shards a killed run left)."""
        return self.manifest.exists() or bool(self.shard_files())

    def new_shard(self, process_index: int) -> Path:
        # The pid and the clock keep the shards of processes with the same index on several machines,
        # or of successive runs, apart.
        self.shards.mkdir(parents=True, exist_ok=True)
        return self.shards / f"p{process_index:03d}-{os.getpid()}-{time.time_ns()}.jsonl"

    def new_scratch(self, process_index: int) -> Path:
        """A folder of this process's own, where images are written before they take their names."""
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"p{process_index:03d}-", dir=self.scratch_root))

    def clear_scratch(self) -> None:
        """Remove what processes killed mid-write left (only while no other process is writing)."""
        shutil.rmtree(self.scratch_root, ignore_errors=True)

    def remove_work_if_idle(self) -> None:
        """Remove .freecure/ when it holds nothing but empty folders and the lock: a finished batch
        leaves only its outputs and the manifest."""
        if self.shard_files() or any(self.scratch_root.iterdir() if self.scratch_root.is_dir() else ()):
            return
        for folder in (self.shards, self.scratch_root):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            (self.work / "lock").unlink()
        with contextlib.suppress(OSError):
            self.work.rmdir()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the manifest among the processes (and machines) sharing this folder."""
        self.work.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        with open(self.work / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_manifest(self, text: str) -> None:
        """Replace manifest.jsonl whole: readers see the old one or the new one, never a mix. It gets
        the permissions of the manifest it replaces, else those the umask gives any new file (as the
        outputs do), not the 0600 of a temporary file."""
        self.work.mkdir(parents=True, exist_ok=True)
        permissions = final_permissions(self.manifest)
        descriptor, temporary = tempfile.mkstemp(prefix="manifest.", suffix=".partial", dir=self.work)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                if hasattr(os, "fchmod"):
                    os.fchmod(stream.fileno(), permissions)
                os.fsync(stream.fileno())
            os.replace(temporary, self.manifest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        fsync_directory(self.root)

