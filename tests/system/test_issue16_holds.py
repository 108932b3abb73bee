"""Issue 16, third attack review, on a host: the places an enclave mounts on cannot be
moved away from under it by a process of the same uid outside it.

A rename of ~/secrets (or of a directory above a bridge) moved the enclave's mount with
it, and the enclave's processes, going by the path, wrote into the attacker's directory.
While the enclave is open, its mount point, its bridges and every directory between
them and the home are bound onto themselves in the host's mount namespace (EBUSY for a
rename or rmdir); a keeper releases them when the enclave ends, however it ends.
"""

from __future__ import annotations

import shutil

import pytest

from tazpod.sysio.mounts import is_mount_point

from .conftest import WAIT_FOR_FILE, Project, as_user, wait_for

pytestmark = pytest.mark.system


def test_issue16_the_places_are_held_while_the_enclave_is_open(project: Project) -> None:
    home = project.user.home
    project.set_config("  bridges: []\n", "  bridges:\n    - ~/.config/tzgh\n")
    ready, go = project.root / "ready", project.root / "go"
    script = (
        f"touch {ready}; {WAIT_FOR_FILE % go};"
        f' echo later > "$TAZPOD_VAULT/later"; echo token > {home}/.config/tzgh/hosts'
    )
    holder = project.start("sh", "-c", script)
    try:
        wait_for(lambda: ready.exists() or holder.poll() is not None, timeout=60)
        assert holder.poll() is None, holder.communicate()
        for move in (
            ["mv", f"{home}/secrets", f"{home}/moved"],
            ["rmdir", f"{home}/secrets"],
            ["mv", f"{home}/.config", f"{home}/.config-moved"],  # the directory above a bridge
            ["mv", f"{home}/.config/tzgh", f"{home}/moved"],
            ["unshare", "-Urm", "mv", f"{home}/secrets", f"{home}/moved"],  # its own namespace
        ):
            done = as_user(project.user, move)
            assert done.returncode != 0 and "busy" in done.stderr.lower(), (move, done.stderr)
        go.touch()
        _out, err = holder.communicate(timeout=120)
        assert holder.returncode == 0 and "vault saved" in err, err
        assert not (home / ".config" / "tzgh" / "hosts").exists()  # it went into the vault
        # Released once the enclave has ended: nothing of it stays in the host's table.
        places = (home / "secrets", home / ".config", home / ".config" / "tzgh")
        wait_for(lambda: not any(is_mount_point(str(p)) for p in places), timeout=30)
        kept = project.run("cat", f"{home}/secrets/later", f"{home}/.config/tzgh/hosts")
        assert kept.stdout == "later\ntoken\n", kept.stderr
    finally:
        holder.kill()
        shutil.rmtree(home / ".config" / "tzgh", ignore_errors=True)
        # (a rename out of a held directory fails across mounts, EXDEV, and mv then copies
        # before its removal of the original fails: the copy is an empty directory)
        shutil.rmtree(home / "moved", ignore_errors=True)
