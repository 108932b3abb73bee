"""The luks backend against real cryptsetup, loop devices, dm-crypt and ext4."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tazpod.errors import ExitCode

from .conftest import PASSPHRASE, LuksProject, attached_loops, mappings


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mounts_of_vault(project: LuksProject) -> list[str]:
    hits = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/mountinfo").read_text()
            except OSError:
                continue
            hits += [line for line in text.splitlines() if f" {project.secrets} " in line]
    return hits


def test_create_write_close_reopen(project: LuksProject) -> None:
    done = project.run(
        "sh", "-c", 'echo luks-payload-7 > "$TAZPOD_VAULT/note"; df -T "$TAZPOD_VAULT"'
    )
    assert done.returncode == 0, done.stderr
    assert "created a new vault" in done.stderr
    assert "ext4" in done.stdout and "/dev/mapper/tazpod-" in done.stdout
    image = project.image
    assert image.stat().st_size == 64 * 1024 * 1024
    assert image.stat().st_mode & 0o777 == 0o600
    assert image.stat().st_uid == project.user.uid
    header = subprocess.run(["cryptsetup", "luksDump", str(image)], capture_output=True, text=True)
    assert "Version:       \t2" in header.stdout and "argon2id" in header.stdout
    assert "aes-xts-plain64" in header.stdout
    assert b"luks-payload-7" not in image.read_bytes()
    # closed means closed: no mapping, no loop device, no mount anywhere
    assert mappings() == [] and attached_loops() == [] and _mounts_of_vault(project) == []
    again = project.run("cat", f"{project.secrets}/note")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "luks-payload-7\n"
    assert mappings() == [] and attached_loops() == []


def test_wrong_passphrase_changes_nothing(existing: LuksProject, tmp_path: Path) -> None:
    before = _sha256(existing.image)
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    done = existing.tazpod("run", "--passphrase-file", str(wrong), "--", "true")
    assert done.returncode == ExitCode.WRONG_PASSPHRASE, done.stderr
    assert "wrong passphrase" in done.stderr
    assert PASSPHRASE not in done.stderr + done.stdout
    assert _sha256(existing.image) == before
    assert mappings() == [] and attached_loops() == []


def test_tazpod_made_vault_opens_unchanged(project: LuksProject) -> None:
    """A vault.img made the way TazPod makes it: dd, luksFormat --batch-mode, mkfs.ext4."""
    image = project.image
    image.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chown(image.parent, project.user.uid, project.user.gid)
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={image}", "bs=1M", "count=64"], check=True, capture_output=True
    )
    os.chown(image, project.user.uid, project.user.gid)
    typed = PASSPHRASE + "\n"  # as typed at cryptsetup's prompt
    subprocess.run(
        ["cryptsetup", "luksFormat", "--batch-mode", str(image)], input=typed, text=True, check=True
    )
    subprocess.run(
        ["cryptsetup", "open", str(image), "tazpod_vault"], input=typed, text=True, check=True
    )
    subprocess.run(["mkfs.ext4", "-q", "/dev/mapper/tazpod_vault"], check=True)
    mnt = Path("/mnt/tazpod-made")
    mnt.mkdir(exist_ok=True)
    subprocess.run(["mount", "/dev/mapper/tazpod_vault", str(mnt)], check=True)
    (mnt / "from-tazpod").write_text("written by TazPod\n")
    subprocess.run(["umount", str(mnt)], check=True)
    subprocess.run(["cryptsetup", "close", "tazpod_vault"], check=True)

    done = project.run(
        "sh", "-c", f'cat "{project.secrets}/from-tazpod"; echo more > "$TAZPOD_VAULT/x"'
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "written by TazPod\n"
    assert project.run("cat", f"{project.secrets}/x").stdout == "more\n"


def test_kill_9_while_writing_keeps_committed_data(existing: LuksProject) -> None:
    writer = (
        'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo "record $i" >> "$TAZPOD_VAULT/log";'
        ' sync "$TAZPOD_VAULT/log"; echo "$i"; done'
    )
    session = existing.start("sh", "-c", writer)
    assert session.stdout is not None
    committed = 0
    while committed < 40:
        line = session.stdout.readline()
        assert line, session.stderr.read() if session.stderr else ""
        committed = int(line)
    session.send_signal(signal.SIGKILL)  # the supervisor: no save, no unmount, no close
    session.wait()
    deadline = time.monotonic() + 20
    while _mounts_of_vault(existing) and time.monotonic() < deadline:
        time.sleep(0.1)  # the enclave's process follows its supervisor (PDEATHSIG)
    assert mappings() != []  # the crash left the mapping behind ...

    done = existing.run("cat", f"{existing.secrets}/log")
    assert done.returncode == 0, done.stderr
    assert "left open by an earlier session" in done.stderr  # ... and the next open cleans it
    records = done.stdout.splitlines()
    assert records[:committed] == [f"record {i}" for i in range(1, committed + 1)]
    assert mappings() == [] and attached_loops() == []


def _alive(pid: int) -> bool:
    """The process still exists and is not a zombie (a zombie holds no mounts)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_leftover_process_of_a_killed_session_is_named(existing: LuksProject) -> None:
    session = existing.start(
        "sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo up; wait"
    )
    assert session.stdout is not None and session.stdout.readline() == "up\n"
    session.send_signal(signal.SIGKILL)
    session.wait()
    deadline = time.monotonic() + 20
    while len(_mounts_of_vault(existing)) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)  # the session's shell follows its supervisor; the leftover stays
    busy = existing.run("true")
    assert busy.returncode == ExitCode.VAULT_BUSY, busy.stderr
    assert "still mounted by process(es)" in busy.stderr and "kill" in busy.stderr
    pids = [int(p) for p in busy.stderr.split("process(es) ")[1].split(" left")[0].split(", ")]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is asynchronous: wait until they have let go of the mount
    deadline = time.monotonic() + 20
    while _mounts_of_vault(existing) and time.monotonic() < deadline:
        time.sleep(0.1)  # the last process in the enclave's namespace is gone
    done = existing.run("true")
    assert done.returncode == 0, done.stderr
    assert mappings() == [] and attached_loops() == []


def test_second_open_joins_never_mounts_twice(existing: LuksProject) -> None:
    first = existing.start("sh", "-c", 'echo shared > "$TAZPOD_VAULT/s"; echo ready; sleep 30')
    assert first.stdout is not None and first.stdout.readline() == "ready\n"
    second = existing.run("sh", "-c", f'cat "{existing.secrets}/s"')
    assert second.returncode == 0, second.stderr
    assert "joined the open enclave" in second.stderr
    assert second.stdout == "shared\n"
    assert len(mappings()) == 1
    assert len(attached_loops()) == 1
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)
    assert mappings() == [] and attached_loops() == []


def test_passphrase_change_swaps_keyslots(existing: LuksProject, tmp_path: Path) -> None:
    inside = existing.run("sh", "-c", 'echo kept > "$TAZPOD_VAULT/k"; tazpod vault status')
    assert inside.returncode == 0, inside.stderr
    assert "backend:     luks" in inside.stdout and "MiB free" in inside.stdout
    assert "keyslots:    1 in use (0)" in inside.stdout
    new = tmp_path / "new"
    new.write_text("a brand new passphrase\n")
    changed = existing.tazpod(
        "vault",
        "passwd",
        "--passphrase-file",
        str(existing.passfile),
        "--new-passphrase-file",
        str(new),
    )
    assert changed.returncode == 0, changed.stderr
    assert "new passphrase verified" in changed.stderr
    status = existing.tazpod("vault", "status")
    assert "backend:     luks" in status.stdout
    assert "keyslots:    1 in use" in status.stdout, status.stdout
    old = existing.run("true")
    assert old.returncode == ExitCode.WRONG_PASSPHRASE
    opened = existing.tazpod(
        "run", "--passphrase-file", str(new), "--", "cat", f"{existing.secrets}/k"
    )
    assert opened.returncode == 0 and opened.stdout == "kept\n", opened.stderr


def test_migrate_ram_to_luks_and_back(project: LuksProject) -> None:
    project.set_config("  backend: luks\n", "  backend: ram\n")
    script = (
        'cd "$TAZPOD_VAULT" && mkdir -p d/e && echo one > d/e/f && echo two > g && chmod 640 g'
        " && ln -s d/e/f link"
    )
    assert project.run("sh", "-c", script).returncode == 0
    listing = (
        'cd "$TAZPOD_VAULT" && find . \\( -path ./.tazpod -o -path ./lost+found \\) -prune'
        " -o -print | sort && cat link g"
    )
    before = project.run("sh", "-c", listing).stdout
    assert "./d/e/f" in before and "one\ntwo\n" in before

    args = ("--passphrase-file", str(project.passfile))
    to_luks = project.tazpod("vault", "migrate", "--to", "luks", "--size", "48M", *args)
    assert to_luks.returncode == 0, to_luks.stderr
    assert "the new vault holds the same 5 entries" in to_luks.stderr
    config = (project.root / ".tazpod" / "config.yaml").read_text()
    assert "backend: luks" in config and "size: 48M" in config
    assert "# ram: an age-encrypted file" in config  # comments kept
    assert project.image.stat().st_size == 48 * 1024 * 1024
    assert not (project.vault_dir / "vault.age").exists()
    assert not (project.vault_dir / "identity.age").exists()
    assert mappings() == [] and attached_loops() == []
    in_luks = project.run("sh", "-c", listing)
    assert in_luks.stdout == before, in_luks.stderr

    to_ram = project.tazpod("vault", "migrate", "--to", "ram", *args)
    assert to_ram.returncode == 0, to_ram.stderr
    assert not project.image.exists() and (project.vault_dir / "vault.age").exists()
    assert project.run("sh", "-c", listing).stdout == before
    assert project.run("stat", "-c", "%a", f"{project.secrets}/g").stdout == "640\n"


def test_unrepairable_file_system_stops_the_open_cleanly(existing: LuksProject) -> None:
    typed = PASSPHRASE.encode()
    subprocess.run(
        ["cryptsetup", "open", "--key-file=-", str(existing.image), "tazpod-corrupt"],
        input=typed,
        check=True,
    )
    try:  # clear the root directory's inode: `e2fsck -p` must not guess at that
        subprocess.run(
            ["debugfs", "-w", "-R", "clri <2>", "/dev/mapper/tazpod-corrupt"],
            capture_output=True,
            check=True,
        )
    finally:
        subprocess.run(["cryptsetup", "close", "tazpod-corrupt"], check=True)
    done = existing.run("true")
    assert done.returncode == ExitCode.VAULT, done.stderr
    assert "errors that `e2fsck -p` cannot repair" in done.stderr
    assert "e2fsck -f /dev/mapper/tazpod-repair" in done.stderr  # how to repair by hand
    assert mappings() == [] and attached_loops() == [] and _mounts_of_vault(existing) == []
