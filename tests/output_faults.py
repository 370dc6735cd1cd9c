"""Faults of the output side, made real or injected at the OS call: a read-only file system (a tmpfs
mounted read-only in a user namespace, where the system allows one), a folder without permission (as
root, permission bits do not stop anything, so os.open is made to refuse), and a full disk (os.fsync
fails with ENOSPC, as it does on file systems that allocate late)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from conftest import random_photo

NO_ATTRIBUTE = "a portrait of a woman"  # nothing to cure: the photo is copied, no model is loaded


def _unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_read_only_mount = pytest.mark.skipif(
    not _unshare_works(), reason="user namespaces (unshare --user --mount) are not allowed here"
)


def run_with_read_only(mount: Path, args: list) -> subprocess.CompletedProcess:
    """`freecure-edit ARGS` in a process that sees an empty read-only tmpfs at `mount`."""
    mount.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(mount),
         sys.executable, "-m", "freecure_edit.cli", *map(str, args)],
        capture_output=True, text=True, timeout=180,
    )


def refuse_creating_files_in(monkeypatch, folder: Path, number: int = errno.EACCES) -> None:
    """os.open fails for any new file directly in `folder`, as without write permission."""
    real_open = os.open
    refused = os.path.abspath(folder)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.path.dirname(os.path.abspath(os.fsdecode(path))) == refused:
            raise PermissionError(number, os.strerror(number), os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)


def fill_the_disk(monkeypatch, under: Path, after: int = 0) -> dict:
    """os.fsync of regular files under `under` succeeds `after` times, then fails with ENOSPC.
    Returns the counter, to see how many were tried."""
    real_fsync = os.fsync
    root = os.path.realpath(under)
    calls = {"files": 0}

    def fsync(descriptor):
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            path = os.readlink(f"/proc/self/fd/{descriptor}")
            if path.startswith(root + os.sep):
                calls["files"] += 1
                if calls["files"] > after:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def transparent_photo(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0, opaque: bool = False) -> Path:
    """An RGBA photo, with a transparent corner unless `opaque`."""
    rgb = np.asarray(random_photo(*size, seed=seed))
    alpha = np.full(rgb.shape[:2], 255, dtype=np.uint8)
    if not opaque:
        alpha[: size[1] // 3, : size[0] // 3] = 0
    PIL.Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    return path
