"""The table of secrets.yml's approved mappings that an enclave's `tazpod env` reads.

secrets.yml is in the workspace, which any session of the user (outside the enclave
too) can change, so `tazpod env` never takes mappings from it directly: the table in
the enclave's control directory holds the mappings of the last secrets.yml that was
checked against the user's approval, with the file's identity (path, mtime, size,
inode, ctime) at that time, and the identity of a later file that was refused, so a
refusal is told once. The one check of a mapping's file name is here too: secrets.yml's
reader and the table's reader both apply it. This module imports only ``os``: it is on
the prompt's path.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from tazpod.secrets.mappings import SecretMapping

CONTROL_DIR = ".tazpod"  # tazpod.enclave.control.CONTROL_DIR, without importing it
TABLE = "secrets-mappings.tsv"
HEADER = "tazpod approved mappings 3"
DELIVERY = "delivery"  # the line before the delivery rows (NAME<TAB>MODE)
MappingRow = tuple[str, str, str | None]  # (secret name, file, env variable)

# Names tazpod itself uses inside the vault; a mapping must not overwrite them.
RESERVED_FILES = frozenset(
    {
        ".env-infisical",
        ".env-local",
        ".infisical-auth.json",
        ".tazpod",
        ".bridges",
        ".infisical-vault",
        ".infisical-keyring",
        ".gemini-vault",
        "lost+found",
        ".state",
        ".bashrc",
    }
)


def check_file_name(name: str) -> str:
    """A secret's file name: one plain path component inside the vault."""
    if not name:
        raise ValueError("file is empty")
    if name.startswith("/"):
        raise ValueError(f"{name!r} is an absolute path; write a plain file name")
    if name in (".", "..") or ".." in name.split("/"):
        raise ValueError(f"{name!r} contains '..'; write a plain file name")
    if "/" in name or "\\" in name:
        raise ValueError(f"{name!r} contains a path separator; write a plain file name")
    if not name.isprintable():
        raise ValueError(f"{name!r} contains control or formatting characters")
    if name in RESERVED_FILES:
        raise ValueError(f"{name!r} is reserved for tazpod's own use")
    if len(name.encode()) > 255:
        raise ValueError("file name is longer than 255 bytes")
    return name


def file_key(secrets_yml: str) -> str:
    """What identifies one version of secrets.yml (no user can set a file's ctime), one line."""
    path = secrets_yml.replace("\n", "\\n")
    try:
        st = os.stat(secrets_yml)
    except FileNotFoundError:
        return f"{path}\tabsent"
    return f"{path}\t{st.st_mtime_ns}\t{st.st_size}\t{st.st_ino}\t{st.st_ctime_ns}"


class Table:
    def __init__(
        self,
        checked: str,
        refused: str,
        rows: list[MappingRow],
        delivery: dict[str, str] | None = None,
    ) -> None:
        self.checked, self.refused, self.rows = checked, refused, rows
        self.delivery = delivery or {}  # secret name ("*": the default) -> delivery mode


def read(root: str) -> Table | None:
    try:
        with open(os.path.join(root, CONTROL_DIR, TABLE), encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except OSError:
        return None
    if len(lines) < 3 or lines[0] != HEADER:
        return None
    body = lines[3:]
    split = body.index(DELIVERY) if DELIVERY in body else len(body)
    fields = [line.split("\t") for line in body[:split] if line]
    rows = [(f[0], f[1], f[2] or None) for f in fields if len(f) == 3]
    pairs = [line.split("\t") for line in body[split + 1 :] if line]
    delivery = {f[0]: f[1] for f in pairs if len(f) == 2}
    return Table(lines[1], lines[2], rows, delivery)


def write(
    root: str,
    checked: str,
    rows: Iterable[MappingRow],
    refused: str = "",
    delivery: Iterable[tuple[str, str]] = (),
) -> str | None:
    """Store the table; returns what to tell the user when it cannot be (a full vault)."""
    from pathlib import Path

    from tazpod.secrets import generation
    from tazpod.sysio.files import write_atomic

    control = os.path.join(root, CONTROL_DIR)
    if not root or not os.path.isdir(control):
        return None
    rows, delivery = list(rows), list(delivery)
    before = read(root)
    body = "".join(f"{name}\t{file}\t{env or ''}\n" for name, file, env in rows)
    body += DELIVERY + "\n" + "".join(f"{name}\t{mode}\n" for name, mode in delivery)
    try:
        write_atomic(Path(control, TABLE), f"{HEADER}\n{checked}\n{refused}\n{body}".encode())
    except OSError as err:
        return (
            f"could not record secrets.yml's mappings in {control} ({err.strerror}):"
            " `tazpod env` keeps the ones it had"
        )
    if before is not None and (before.rows, before.delivery) == (rows, dict(delivery)):
        return None
    try:  # what `tazpod env` exports changed: the enclave's shells take it at their prompt
        generation.bump(root)
    except OSError as err:
        return f"could not tell the enclave's shells of the new mappings ({err.strerror})"
    return None


def rows_of(mappings: Iterable[SecretMapping]) -> list[MappingRow]:
    """The table's rows: one line each, whatever a name holds (a name is one cell)."""
    return [(" ".join(m.name.split()), m.file, m.env) for m in mappings]


def record(
    root: str,
    secrets_yml: str,
    mappings: Iterable[SecretMapping],
    key: str | None = None,
    delivery: Iterable[tuple[str, str]] = (),
) -> str | None:
    """After a check of secrets.yml against the approval: its mappings are the ones to use.

    The key is taken after the check (or given, taken before it): a file changed in
    between gets the checked rows under its own key, never its own rows.
    """
    key, rows = key or file_key(secrets_yml), rows_of(mappings)
    delivery = list(delivery)
    table = read(root)
    same = (key, "", rows, dict(delivery))
    if table is not None and (table.checked, table.refused, table.rows, table.delivery) == same:
        return None  # already so: every tazpod command in the enclave comes here
    return write(root, key, rows, delivery=delivery)
