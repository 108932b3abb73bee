"""Checks for single values of config.yaml: each takes the raw value, returns it typed.

They raise ValueError with the reason; tazpod.project.yamldoc's MapReader adds
the file, line and key. ``parse_size_mib`` also serves the command line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]i?B?|[kmgt])?\s*$")
_SIZE_UNIT_MIB = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_RELATIVE_FILE_RE = re.compile(r"[A-Za-z0-9._-][A-Za-z0-9._/-]*")
_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def parse_size_mib(value: Any) -> int:
    """`64`, `64M`, `64MiB`, `1G` -> MiB. Plain numbers are MiB."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as 64M or 1G, not a boolean")
    if isinstance(value, int):
        mib = value
    else:
        match = _SIZE_RE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size; write e.g. 64M, 512MiB or 1G")
        unit = (match.group(2) or "M")[0].upper()
        mib = int(int(match.group(1)) * _SIZE_UNIT_MIB[unit])
    if mib < 1:
        raise ValueError(f"{value!r} is too small; the minimum is 1M")
    if mib > 1024 * 1024:
        raise ValueError(f"{value!r} is too large; the maximum is 1T")
    return mib


def one_of(options: tuple[str, ...] | dict[str, str]) -> Callable[[Any], str]:
    """A check that the value is one of ``options`` (a dict: one of its keys)."""

    def check(value: Any) -> str:
        text = str(value)
        if text not in options:
            raise ValueError(f"{text!r} is not one of: {', '.join(options)}")
        return text

    return check


def user_name(value: Any) -> str:
    text = str(value)
    if not _USER_RE.match(text):
        raise ValueError(f"{text!r} is not a valid user name (lowercase letters, digits, _ and -)")
    if text == "root":
        raise ValueError("must be an unprivileged user: the enclave and sessions never run as root")
    return text


def container_name(value: Any) -> str:
    from tazpod.project.names import check_container_name

    return check_container_name(str(value))


def mount_point(value: Any) -> str:
    text = str(value)
    if not (text.startswith("/") or text.startswith("~/")):
        raise ValueError(f"{text!r} must be an absolute path or start with ~/")
    if ".." in Path(text).parts:
        raise ValueError(f"{text!r} must not contain '..'")
    return text


def kdf_memory_mib(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 32 <= value <= 4096:
        raise ValueError("must be a whole number of MiB from 32 to 4096")
    return value


def kdf_time_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 60000:
        raise ValueError("must be a whole number of milliseconds from 100 to 60000")
    return value


def quantity(value: Any) -> str:
    text = str(value)
    if isinstance(value, bool) or not _QUANTITY_RE.match(text):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)")
    return text


def relative_file(value: Any) -> str:
    """A file below some directory: relative, no '..', plain characters."""
    text = str(value)
    parts = text.split("/")
    if not _RELATIVE_FILE_RE.fullmatch(text) or ".." in parts or "" in parts:
        raise ValueError(
            f"{value!r} is not a relative file name (letters, digits, '.', '_', '-', '/'; no '..')"
        )
    return text


def k8s_name(value: Any) -> str:
    text = str(value)
    if not _K8S_NAME_RE.match(text):
        raise ValueError(f"{value!r} is not a valid Kubernetes name (lowercase, digits, '-', '.')")
    return text


_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")  # docker's RAMInBytes
_BYTES_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# Variables that change how every program in the container starts, root's included (root
# builds the enclave there, and the workspace is every session's to write).
_LOADER_NAMES = frozenset(
    {"GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "RESOLV_HOST_CONF"}
    | {"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PS4", "PROMPT_COMMAND", "CDPATH"}
    | {"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES"}
)
# Directories a session in the container can write: no PATH entry may name them.
_WRITABLE_PLACES = (
    *("/workspace", "/home", "/root", "/run/user"),
    *("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue"),  # noqa: S108 (names, never opened)
    *("/run/lock", "/var/lock", "/var/mail", "/var/spool/mail", "/var/crash"),
)


def env_name(value: Any) -> str:
    """A name for the container's environment: not one of tazpod's, nor the loader's."""
    text = str(value)
    if not _ENV_NAME_RE.match(text):
        raise ValueError(f"{text!r} is not a variable name (letters, digits and _)")
    if text.startswith("TAZPOD_"):
        raise ValueError(f"{text} is tazpod's own: tazpod sets the TAZPOD_ variables itself")
    if text.startswith(("LD_", "MALLOC_")) or text in _LOADER_NAMES:
        raise ValueError(
            f"{text} changes how every program in the container starts, root's included"
            " (root builds the enclave there): set it in a session, not for the container"
        )
    return text


def env_value(name: str, value: Any) -> str:
    """A value for ``name``; PATH may name only directories no session can write."""
    if value is None:
        raise ValueError('has no value; write "" for an empty one')
    if isinstance(value, bool | dict | list):
        raise ValueError(f"must be a string, not {_kind(value)}")
    text = str(value)
    if "\0" in text:
        raise ValueError("must not hold a NUL character")
    if name == "PATH":
        for written in text.split(":"):
            # as the kernel walks it: /usr/bin/../../workspace/bin is /workspace/bin
            entry = posixpath.normpath(written) if written.startswith("/") else written
            if not entry.startswith("/") or any(
                entry == place or entry.startswith(place + "/") for place in _WRITABLE_PLACES
            ):
                raise ValueError(
                    f"PATH names {entry or '(the current directory)'!r}, which sessions in the"
                    " container can write: root there would run what they put in it; list"
                    " only system directories (e.g. /usr/local/go/bin), or extend PATH in a"
                    " session's start-up file"
                )
    return text


def _kind(value: Any) -> str:
    return "a boolean" if isinstance(value, bool) else type(value).__name__


def byte_size(value: Any) -> str:
    """A size as `docker run --memory` takes it (4g, 512m, 1073741824): kept as written."""
    size_in_bytes(value)
    return str(value)


def size_in_bytes(value: Any) -> int:
    match = None if isinstance(value, bool) else _BYTES_RE.match(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a size; write e.g. 512m, 4g or a number of bytes")
    number = float(match.group(1)) * _BYTES_UNIT[(match.group(2) or "").lower()]
    if number < 1:
        raise ValueError(f"{value!r} is too small")
    return int(number)


def cpus(value: Any) -> str:
    try:
        number = float(str(value)) if not isinstance(value, bool) else -1.0
    except ValueError:
        number = -1.0
    if not 0.01 <= number <= 1024:
        raise ValueError(f"{value!r} is not a number of CPUs (e.g. 2 or 1.5)")
    return str(value)


def hostname(value: Any) -> str:
    text = str(value)
    if not _HOSTNAME_RE.match(text):
        raise ValueError(f"{text!r} is not a host name (letters, digits, '-' and '.')")
    return text


def port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{value!r} is not a port number (1 to 65535)")
    return value
