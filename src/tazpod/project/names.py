"""Container names: `tazpod-<dir>-<7 digits>`, safe for Docker, Podman and Kubernetes.

The directory part is folded to lowercase ASCII letters, digits and dashes
(the intersection of Docker's and DNS-1123's rules) so one name works on
every engine, while staying recognisable: `Mon Projet` -> `mon-projet`,
`Ünïcode` -> `unicode`, `.dotfiles` -> `dotfiles`.
"""

from __future__ import annotations

import re
import unicodedata

PREFIX = "tazpod-"
MAX_NAME = 63  # Kubernetes object names (DNS-1123 label)
_SUFFIX_LEN = 8  # "-" + 7 digits
_MAX_DIR = MAX_NAME - len(PREFIX) - _SUFFIX_LEN
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def safe_dir_part(directory_name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", directory_name)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    dashed = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    trimmed = dashed[:_MAX_DIR].rstrip("-")
    return trimmed or "project"


def new_container_name(directory_name: str) -> str:
    import secrets  # (hmac and hashlib: only `init` needs a random name)

    digits = 1_000_000 + secrets.randbelow(9_000_000)
    return f"{PREFIX}{safe_dir_part(directory_name)}-{digits}"


def check_container_name(name: str) -> str:
    """Accept any name Docker accepts; TazPod's own names (`tazpod-lab`) included."""
    if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", name) or len(name) > MAX_NAME:
        raise ValueError(
            f"{name!r} is not a valid container name (letters, digits, '_', '.', '-';"
            f" at most {MAX_NAME} characters, starting with a letter or digit)"
        )
    return name


def is_portable(name: str) -> bool:
    """True when the name is also a valid Kubernetes object name."""
    return bool(_NAME_RE.match(name)) and len(name) <= MAX_NAME
