"""Write a file so that readers see either the old state or the complete new file, never a partial one.

The bytes go to a temporary file in the target's own folder (so the final rename stays on one file
system), are fsync'ed, then take the target's name. Without overwrite the name is taken with a hard
link, which fails if the name appeared meanwhile instead of replacing it. On any failure, including
Ctrl-C, the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_LINK_UNSUPPORTED = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _current_umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Reading the umask means setting it; briefly, files other threads create get 0o022.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def final_permissions(target: Path) -> int:
    """The mode a file written to `target` should get: the replaced file's, else what the umask allows."""
    # mkstemp makes 0600 files; the result should look like any file the user creates, or keep the
    # permissions of the file it replaces.
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def fsync_directory(folder: Path) -> None:
    # Makes the new name survive a power cut. Best effort: Windows cannot open directories, and some
    # file systems refuse fsync on them; the file's own data is synced already.
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _take_name_without_overwriting(temporary: Path, target: Path) -> None:
    try:
        os.link(temporary, target)
    except OSError as error:
        if error.errno not in _LINK_UNSUPPORTED:
            raise
        # No hard links here (FAT, some network shares): check, then rename, accepting the small race.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(target)) from None
        os.replace(temporary, target)
        return
    os.unlink(temporary)


TEMPORARY_SUFFIX = ".partial"
# mkstemp's random part: 8 characters.
_RANDOM_LENGTH = 8


def name_limit(folder: Path) -> int:
    """The longest file name, in bytes, that `folder`'s file system takes (255 on most)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or the folder is not there yet
        return 255


def temporary_prefix(target: Path) -> str:
    """`.NAME.`, with NAME cut (whole characters only) so that the temporary name, with mkstemp's random
    part and `.partial` after it, fits wherever the final name fits: a name near the file system's limit
    must not fail after a cure."""
    room = name_limit(target.parent) - len("..") - _RANDOM_LENGTH - len(TEMPORARY_SUFFIX)
    encoded = os.fsencode(target.name)
    name = target.name if len(encoded) <= room else encoded[:max(room, 1)].decode("utf-8", "ignore")
    return f".{name}."


def write_atomically(target: Path, write: Callable[[BinaryIO], None], *, overwrite: bool) -> None:
    """Call `write` on a temporary file next to `target`, then give it `target`'s name.

    Raises FileExistsError when `target` exists and `overwrite` is false, and whatever `write` or the
    file system raise; in every case nothing but the untouched old `target` is left.
    """
    permissions = final_permissions(target)
    descriptor, temporary_name = tempfile.mkstemp(
        prefix=temporary_prefix(target), suffix=TEMPORARY_SUFFIX, dir=target.parent
    )
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(stream.fileno(), permissions)
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, target)
        else:
            _take_name_without_overwriting(temporary, target)
        fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
