"""Issue 18: `tazpod ssh-config` writes where the README says — the user's own ~/.ssh (from
the passwd entry, as ssh reads it, whatever $HOME says) — and OpenSSH itself reads the
entry through the Include it added; `--remove` leaves the user's file byte for byte."""

from __future__ import annotations

import os
import shutil
import stat

from .conftest import Project, as_user

MINE = "# my settings\nHost build-box\n  User me\n  Port 2200\n"


def test_issue18_the_entry_is_in_the_users_ssh_dir_and_ssh_reads_it(project: Project) -> None:
    user = project.user
    ssh_dir = user.home / ".ssh"
    shutil.rmtree(ssh_dir, ignore_errors=True)
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "config").write_text(MINE)
    for path in (ssh_dir, ssh_dir / "config"):
        os.chown(path, user.uid, user.gid)
    original = (ssh_dir / "config").read_bytes()
    try:
        env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}  # passwd's home counts
        written = as_user(user, [str(project.binary), "ssh-config"], cwd=project.root, env=env)
        assert written.returncode == 0, written.stderr
        alias = next(
            line.split()[2] for line in written.stdout.splitlines() if line.startswith("connect:")
        )
        container = next(
            line.split(":", 1)[1].strip().strip('"')
            for line in (project.root / ".tazpod" / "config.yaml").read_text().splitlines()
            if line.startswith("container_name:")
        )
        entry = ssh_dir / "tazpod" / f"{container}.conf"
        assert entry.is_file() and entry.stat().st_uid == user.uid
        keys = user.home / ".local" / "state" / "tazpod" / "ssh" / container
        for name in ("id_ed25519", "host_ed25519_key", "known_hosts"):
            info = (keys / name).stat()
            assert info.st_uid == user.uid and stat.S_IMODE(info.st_mode) == 0o600, name
        assert stat.S_IMODE(keys.stat().st_mode) == 0o700

        seen = as_user(user, ["ssh", "-G", alias], env=env)
        assert seen.returncode == 0, seen.stderr
        options = dict(line.split(" ", 1) for line in seen.stdout.splitlines() if " " in line)
        assert "ssh --stdio --project" in options["proxycommand"]
        assert str(project.root) in options["proxycommand"]
        assert options["user"] == "tazpod" and options["hostkeyalias"] == alias
        assert options["identityfile"] == str(keys / "id_ed25519")
        assert options["stricthostkeychecking"] in ("yes", "true")
        assert options["forwardagent"] == "no"
        mine = as_user(user, ["ssh", "-G", "build-box"], env=env)
        assert "port 2200" in mine.stdout and "proxycommand" not in mine.stdout

        removed = as_user(
            user, [str(project.binary), "ssh-config", "--remove"], cwd=project.root, env=env
        )
        assert removed.returncode == 0, removed.stderr
        assert (ssh_dir / "config").read_bytes() == original
        assert not (ssh_dir / "tazpod").exists()
    finally:
        shutil.rmtree(ssh_dir, ignore_errors=True)
