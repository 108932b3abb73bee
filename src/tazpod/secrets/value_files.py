"""The files of secrets delivered as files: <vault>/.tazpod/values/NAME (0600, never saved).

Made from the vault's dotenv files whenever the enclave's variables are computed (when a
command starts, and by `tazpod env`); a file is rewritten only when its value changed, and
atomically (a reader sees the old value or the new, never half of one). The control
directory is not saved with the vault: the dotenv files are the secrets' one copy. ``os``
only: `tazpod env` runs this on a prompt.
"""

from __future__ import annotations

import os

from tazpod.secrets.delivery import values_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from tazpod.secrets.value import Secret


def _current(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def _write(directory: str, name: str, data: bytes) -> None:
    temp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(temp, os.path.join(directory, name))


def materialize(root: str, files: Mapping[str, Secret]) -> list[str]:
    """Make the value files match ``files`` (name -> value); returns what could not be done."""
    directory = values_dir(root)
    problems: list[str] = []
    try:
        if files:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        present = set(os.listdir(directory))
    except FileNotFoundError:
        return problems
    except OSError as err:
        return [f"{directory}: {err.strerror}; secrets delivered as files are not there"]
    for name, value in files.items():
        data = value.reveal().encode("utf-8", "surrogateescape")
        if _current(os.path.join(directory, name)) == data:
            continue
        try:
            _write(directory, name, data)
        except OSError as err:
            problems.append(f"{directory}/{name}: cannot be written ({err.strerror})")
    for stale in present - set(files):
        try:
            os.unlink(os.path.join(directory, stale))
        except OSError as err:
            problems.append(f"{directory}/{stale}: cannot be removed ({err.strerror})")
    return problems
