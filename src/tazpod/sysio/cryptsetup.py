"""cryptsetup and e2fsprogs, run as child processes; passphrases only ever on pipes.

Every passphrase reaches cryptsetup on stdin (`--key-file=-`) or, for a second
one, on an inherited pipe (`/proc/self/fd/N`): never in argv or the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tazpod.errors import VaultError, WrongPassphraseError
from tazpod.sysio import run as process
from tazpod.sysio.environ import child_env
from tazpod.sysio.procfs import fd_path
from tazpod.sysio.tools import find_tool

# cryptsetup's documented exit codes
WRONG_PASSPHRASE = 2
BUSY = 5

# The LUKS2 defaults TazPod's `cryptsetup luksFormat --batch-mode` produced, spelled out.
FORMAT_OPTIONS = (
    "--type",
    "luks2",
    "--cipher",
    "aes-xts-plain64",
    "--key-size",
    "512",
)
_SLOT = re.compile(r"Key slot (\d+) unlocked")
_DUMP_SLOT = re.compile(r"^\s+(\d+): luks2$", re.MULTILINE)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def _tool(name: str) -> str:
    found = find_tool(name)
    if found is None:
        raise VaultError(
            f"{name} is not installed; the luks backend needs it",
            hint="install cryptsetup-bin and e2fsprogs (Debian/Ubuntu), or use vault.backend: ram",
        )
    return found


def run(tool: str, args: Sequence[str], stdin: bytes = b"", pass_fds: Sequence[int] = ()) -> Result:
    overrides = {}
    if not os.path.exists("/run/udev/control"):
        overrides["DM_DISABLE_UDEV"] = "1"  # no udev (a container): libdevmapper makes the nodes
    done = process.run(
        [_tool(tool), *args],
        env=child_env(overrides),  # root-side: only the allowlist, never root's whole environment
        input=stdin,
        pass_fds=pass_fds,
        check=False,
    )
    return Result(done.returncode, done.out, done.err)


def cryptsetup(
    args: Sequence[str], passphrase: str | None = None, pass_fds: Sequence[int] = ()
) -> Result:
    stdin = passphrase.encode() if passphrase is not None else b""
    key = ["--key-file=-"] if passphrase is not None else []
    return run("cryptsetup", ["--batch-mode", *key, *args], stdin, pass_fds)


def failure(what: str, result: Result) -> VaultError:
    reason = process.last_line(result.stderr) or f"exit status {result.returncode}"
    if result.returncode == WRONG_PASSPHRASE:
        return WrongPassphraseError(
            "wrong passphrase for the vault", hint="the vault image was not changed"
        )
    return VaultError(f"{what} failed: {reason}")


def checked(
    what: str, args: Sequence[str], passphrase: str | None = None, pass_fds: Sequence[int] = ()
) -> Result:
    result = cryptsetup(args, passphrase, pass_fds=pass_fds)
    if result.returncode != 0:
        raise failure(what, result)
    return result


@dataclass(frozen=True)
class Kdf:
    """argon2id's cost for new keyslots: cryptsetup benchmarks within these bounds."""

    time_ms: int = 2000
    memory_mib: int = 1024

    def options(self) -> list[str]:
        return [
            "--pbkdf",
            "argon2id",
            "--iter-time",
            str(self.time_ms),
            "--pbkdf-memory",
            str(self.memory_mib * 1024),
        ]


def format_device(device: str, passphrase: str, kdf: Kdf) -> None:
    checked(
        "formatting the LUKS2 vault",
        ["luksFormat", *FORMAT_OPTIONS, *kdf.options(), device],
        passphrase,
    )


def open_device(device: str, name: str, passphrase: str) -> None:
    checked("opening the vault", ["open", "--type", "luks", device, name], passphrase)


def close_device(name: str) -> Result:
    return cryptsetup(["close", name])


def unlocked_slot(device: str, passphrase: str, pass_fds: Sequence[int] = ()) -> int:
    """The keyslot this passphrase opens (WrongPassphraseError when none)."""
    result = checked(
        "checking the passphrase",
        ["open", "--test-passphrase", "--verbose", "--type", "luks", device],
        passphrase,
        pass_fds=pass_fds,
    )
    match = _SLOT.search(result.stdout + result.stderr)
    if match is None:
        raise VaultError(f"cryptsetup did not say which keyslot opened {device}")
    return int(match.group(1))


def add_key(
    device: str, passphrase: str, new_passphrase: str, kdf: Kdf, pass_fds: Sequence[int]
) -> None:
    """Add a keyslot for new_passphrase; the new one travels on a pipe, not stdin."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, new_passphrase.encode())  # far below a pipe's buffer
        os.close(write_end)
        write_end = -1
        checked(
            "adding the new passphrase",
            [
                "luksAddKey",
                *kdf.options(),
                device,
                fd_path(read_end),
            ],
            passphrase,
            pass_fds=(read_end, *pass_fds),
        )
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def kill_slot(
    device: str, slot: int, remaining_passphrase: str, pass_fds: Sequence[int] = ()
) -> None:
    checked(
        "removing the old passphrase",
        ["luksKillSlot", device, str(slot)],
        remaining_passphrase,
        pass_fds=pass_fds,
    )


def keyslots(device: str, pass_fds: Sequence[int] = ()) -> list[int]:
    result = cryptsetup(["luksDump", device], pass_fds=pass_fds)
    if result.returncode != 0:
        raise failure(f"reading the LUKS header of {device}", result)
    section = result.stdout.split("Keyslots:", 1)[-1].split("Tokens:", 1)[0]
    return [int(n) for n in _DUMP_SLOT.findall(section)]


def is_luks(device: str, pass_fds: Sequence[int] = ()) -> bool:
    return cryptsetup(["isLuks", device], pass_fds=pass_fds).returncode == 0


# e2fsck -p exit status bits (e2fsck(8))
FSCK_CORRECTED = 1
FSCK_REBOOT = 2
FSCK_UNCORRECTED = 4


def check_filesystem(device: str, force: bool = False) -> Result:
    return run("e2fsck", ["-p", *(["-f"] if force else []), device])


def make_filesystem(device: str, owner: tuple[int, int]) -> None:
    result = run(
        "mkfs.ext4",
        [
            "-q",
            "-F",
            "-L",
            "tazpod-vault",
            "-m",
            "0",
            "-E",
            f"root_owner={owner[0]}:{owner[1]}",
            device,
        ],
    )
    if result.returncode != 0:
        raise failure("creating the vault's ext4 file system", result)
