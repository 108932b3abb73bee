"""The files of secrets delivered as files: <vault>/.tazpod/values/NAME (0600, never saved).

Made from the vault's dotenv files whenever the enclave's variables are computed (when a
command starts, and by `tazpod env`); a file is rewritten only when its value changed, and
atomically (a reader sees the old value or the new, never half of one). The control
directory is not saved with the vault: the dotenv files are the secrets' one copy. ``os``
only: `tazpod env` runs this on a prompt.
"""

from __future__ import annotations

import os

from tazpod.secrets.delivery import VALUES_DIR, values_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from tazpod.secrets.value import Secret


def _current(directory: int, name: str) -> bytes | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 20)
    except OSError:
        return None
    finally:
        os.close(fd)


def _write(directory: int, name: str, data: bytes) -> None:
    temp = f".{name}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(temp, flags, 0o600, dir_fd=directory)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(temp, name, src_dir_fd=directory, dst_dir_fd=directory)


def _open_dir(parent: int | None, path: str, make: bool) -> int:
    """A directory, never through a link (whoever planted one), made 0700 when asked."""
    if make:
        try:  # noqa: SIM105 (no contextlib on the prompt's path)
            os.mkdir(path, 0o700, dir_fd=parent)
        except FileExistsError:
            pass
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)


STAMP = "values.stamp"  # in the control directory: what the value files were made from
SOURCES = (".env-infisical", ".env-local")  # tazpod.secrets.store's dotenv files


def sources_identity(root: str) -> str:
    """The dotenv files' identity, taken BEFORE their values are read (a file replaced in
    between makes the next call compare again, never the other way round); through links,
    as reading goes."""
    parts = []
    for name in SOURCES:
        try:
            st = os.stat(os.path.join(root, name))
            parts.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}:{st.st_ctime_ns}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


def _stamp(sources: str, values: int, files: Mapping[str, Secret]) -> bytes:
    """What the value files were made from (the sources' identity, the set of names) and
    the values directory's own identity (a file removed by hand changes it): no value."""
    st = os.fstat(values)
    text = f"{sources}|{st.st_ino}:{st.st_mtime_ns}|" + "\0".join(sorted(files))
    return text.encode("utf-8", "surrogateescape")


def materialize(root: str, files: Mapping[str, Secret], sources: str | None = None) -> list[str]:
    """Make the value files match ``files`` (name -> value); returns what could not be done.

    ``root`` is the vault's root (trusted: the caller's own path or descriptor); below it,
    the control directory and the values directory are opened without following links.
    With ``sources`` (sources_identity() taken before the values were read), nothing is
    read or written when the stamp says nothing changed since the last time.
    """
    directory = values_dir(root)
    problems: list[str] = []
    try:
        control = _open_dir(None, os.path.join(root, ".tazpod"), make=bool(files))
    except FileNotFoundError:
        return problems
    except OSError as err:
        return [f"{directory}: {err.strerror}; secrets delivered as files are not there"]
    try:
        try:
            values = _open_dir(control, VALUES_DIR, make=bool(files))
        except FileNotFoundError:
            return problems
        except OSError as err:
            return [f"{directory}: {err.strerror}; secrets delivered as files are not there"]
        try:
            if sources is not None and _current(control, STAMP) == _stamp(sources, values, files):
                return problems
            problems = _make(directory, values, files)
            if sources is not None and not problems:
                try:  # noqa: SIM105 (no contextlib on the prompt's path)
                    _write(control, STAMP, _stamp(sources, values, files))
                except OSError:
                    pass  # (only the next call's shortcut is lost)
        finally:
            os.close(values)
    finally:
        os.close(control)
    return problems


def _make(directory: str, values: int, files: Mapping[str, Secret]) -> list[str]:
    problems: list[str] = []
    present = set(os.listdir(values))
    for name, value in files.items():
        data = value.reveal().encode("utf-8", "surrogateescape")
        if _current(values, name) == data:
            continue
        try:
            _write(values, name, data)
        except OSError as err:
            problems.append(f"{directory}/{name}: cannot be written ({err.strerror})")
    for stale in present - set(files):
        try:
            os.unlink(stale, dir_fd=values)
        except OSError as err:
            problems.append(f"{directory}/{stale}: cannot be removed ({err.strerror})")
    return problems
