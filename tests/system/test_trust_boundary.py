"""Issue 15: nothing the unprivileged user or a commit can write steers root or the enclave.

Each test is an attack from the issue, made by the same uid as the enclave's user (or by a
file a commit could add), against `sudo tazpod` on a host.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tazpod.errors import ExitCode

from .conftest import PASSPHRASE, Project, as_user
from .ptyutil import PtySession

MARKER = Path("/var/tmp/tazpod-issue15-marker")


def _clean_marker() -> None:
    MARKER.unlink(missing_ok=True)


def test_issue15_mount_point_over_a_system_directory_is_refused(project: Project) -> None:
    before = sorted(os.listdir("/usr/local/bin"))
    project.set_config("  # mount_point: /home/tazpod/secrets", "  mount_point: /usr/local/bin")
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    name = project.user.name
    assert f"vault.mount_point /usr/local/bin is not a directory under {name}'s home" in done.stderr
    assert sorted(os.listdir("/usr/local/bin")) == before


def test_issue15_mount_point_the_user_does_not_own_is_refused(project: Project) -> None:
    foreign = project.user.home / "root-owned"
    foreign.mkdir(exist_ok=True)
    os.chown(foreign, 0, 0)
    try:
        project.set_config("  # mount_point: /home/tazpod/secrets", f"  mount_point: {foreign}")
        done = project.run("true")
        assert done.returncode == ExitCode.CONFIG, done.stderr
        assert f"belongs to uid 0, not to {project.user.name}" in done.stderr
    finally:
        foreign.rmdir()


def test_issue15_mount_point_through_a_home_symlink_to_a_system_dir_is_refused(
    project: Project,
) -> None:
    link = project.user.home / "innocent"
    link.unlink(missing_ok=True)
    os.symlink("/usr/local/bin", link)
    try:
        project.set_config("  # mount_point: /home/tazpod/secrets", f"  mount_point: {link}")
        done = project.run("true")
        assert done.returncode == ExitCode.CONFIG, done.stderr
        owner = project.user.name
        assert f"(/usr/local/bin) is not a directory under {owner}'s home" in done.stderr
    finally:
        link.unlink()


def test_issue15_mount_point_over_the_vault_files_is_refused(project: Project) -> None:
    vault_dir = project.vault_dir
    project.set_config("  # mount_point: /home/tazpod/secrets", f"  mount_point: {vault_dir}")
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert f"is not a directory under {project.user.name}'s home" in done.stderr


def test_issue15_a_bridge_through_a_home_symlink_into_the_project_is_refused(
    project: Project,
) -> None:
    link = project.user.home / "project-link"
    link.unlink(missing_ok=True)
    os.symlink(project.root, link)
    try:
        project.set_config("  bridges: []\n", "  bridges: [~/project-link]\n")
        done = project.run("true")
        assert done.returncode == ExitCode.CONFIG, done.stderr
        assert f"vault.bridges ~/project-link ({project.root}) is not a directory" in done.stderr
    finally:
        link.unlink()


def test_issue15_user_root_is_refused(project: Project) -> None:
    config = project.root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace('user: "tazpod"', 'user: "root"'))
    trusted = as_user(project.user, [str(project.binary), "trust", "--yes"], cwd=project.root)
    assert trusted.returncode == ExitCode.CONFIG  # no approval makes it acceptable
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "user: must be an unprivileged user" in done.stderr


def test_issue15_a_config_edited_after_approval_is_refused(project: Project) -> None:
    config = project.root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("x11: false", "x11: true"))  # no trust step
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "x11: false -> true" in done.stderr and "tazpod trust" in done.stderr


def test_issue15_root_runs_no_program_from_the_callers_path(project: Project) -> None:
    """A `tar`, `age` or `sh` first on PATH, in a directory the user owns, is never run."""
    _clean_marker()
    trap = project.user.home / "trap-bin"
    trap.mkdir(exist_ok=True)
    for name in ("tar", "age", "sh", "bash", "mount", "umount", "cryptsetup", "setpriv"):
        tool = trap / name
        tool.write_text(f'#!/bin/sh\nid > {MARKER}\nexec /usr/bin/{name} "$@"\n')
        tool.chmod(0o755)
    os.chown(trap, project.user.uid, project.user.gid)
    env = project.env()
    env["PATH"] = f"{trap}:{env.get('PATH', '/usr/bin:/bin')}"
    done = subprocess.run(
        [str(project.binary), "run", "--passphrase-file", str(project.passfile), "--", "true"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not MARKER.exists(), MARKER.read_text() if MARKER.exists() else ""


def test_issue15_a_committed_tazpod_package_is_not_imported(project: Project) -> None:
    _clean_marker()
    package = project.root / "tazpod"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"open({str(MARKER)!r}, 'w').write('imported')\n__version__ = '0'\n"
    )
    (package / "__main__.py").write_text(f"open({str(MARKER)!r}, 'w').write('ran')\n")
    os.chown(package, project.user.uid, project.user.gid)
    assert project.run("true").returncode == 0  # the vault exists
    done = project.tazpod("secrets", "list", "--passphrase-file", str(project.passfile))
    assert done.returncode == 0, done.stderr
    assert not MARKER.exists()


def test_issue15_the_enclave_shell_reads_no_planted_rc_and_keeps_no_history_in_home(
    project: Project,
) -> None:
    _clean_marker()
    home = project.user.home
    assert project.run("true").returncode == 0  # the vault exists
    bashrc = home / ".bashrc"
    saved = bashrc.read_bytes() if bashrc.exists() else None
    inputrc = home / ".inputrc"
    try:
        bashrc.write_text(f"touch {MARKER}\n")
        inputrc.write_text('"\\C-m": "touch /var/tmp/tazpod-issue15-marker\\n"\n')
        session = PtySession([str(project.binary), "unlock"], project.env(), project.root)
        session.expect("vault passphrase: ")
        session.send(PASSPHRASE + "\n")
        session.expect(r"\(enclave\)")
        session.send("echo typed-$((6*7))-here\n")
        session.expect("typed-42-here")
        session.send("exit\n")
        assert session.wait() == 0, session.output
    finally:
        bashrc.unlink(missing_ok=True)
        inputrc.unlink(missing_ok=True)
        if saved is not None:
            bashrc.write_bytes(saved)
    assert not MARKER.exists()
    leaked = as_user(project.user, ["grep", "-rlF", "typed-$((6*7))", str(home)])
    assert leaked.stdout == "", leaked.stdout
    kept = project.run("cat", str(home / "secrets" / ".state" / "bash_history"))
    assert "typed-$((6*7))-here" in kept.stdout, kept.stderr


def test_issue15_reserved_variables_are_refused_for_file_mappings(project: Project) -> None:
    (project.root / "secrets.yml").write_text(  # (no `tazpod trust` would approve it)
        "config:\n  infisical_project_id: p\nsecrets:\n"
        "  - name: STARTUP\n    file: startup.sh\n    env: BASH_ENV\n"
    )
    done = project.run("true")
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "'BASH_ENV' is reserved" in done.stderr
