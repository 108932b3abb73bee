"""`tazpod run` / `unlock` end to end on this host: create, reopen, exit codes, errors."""

from __future__ import annotations

import os
import stat
import subprocess

from tazpod.errors import ExitCode

from .conftest import Project


def test_first_run_creates_the_vault_and_passes_the_exit_code(project: Project) -> None:
    done = project.run("sh", "-c", 'echo s3cret > "$TAZPOD_VAULT/token"; exit 7')
    assert done.returncode == 7, done.stderr
    assert "created a new vault" in done.stderr and "vault saved" in done.stderr
    for name in ("identity.age", "vault.age"):
        info = (project.vault_dir / name).stat()
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert (info.st_uid, info.st_gid) == (project.user.uid, project.user.gid)
    assert stat.S_IMODE(project.vault_dir.stat().st_mode) == 0o700
    assert b"s3cret" not in (project.vault_dir / "vault.age").read_bytes()

    again = project.run("cat", f"{project.secrets}/token")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "s3cret\n"
    assert (project.vault_dir / "vault.age.1").exists()


def test_enclave_process_identity_and_environment(project: Project) -> None:
    script = 'id -u; id -g; grep -E "^(NoNewPrivs|CapEff|CapPrm)" /proc/self/status; env'
    done = project.run("sh", "-c", script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(project.user.uid) and lines[1] == str(project.user.gid)
    assert "NoNewPrivs:\t1" in lines
    assert "CapEff:\t0000000000000000" in lines and "CapPrm:\t0000000000000000" in lines
    env = dict(line.split("=", 1) for line in lines[5:] if "=" in line)
    assert env["TAZPOD_GHOST_MODE"] == "true"
    assert env["TAZPOD_VAULT"] == str(project.secrets)
    assert env["HOME"] == str(project.user.home) and env["USER"] == project.user.name
    assert "SUDO_UID" not in env and "PASSPHRASE" not in " ".join(env)


def test_secret_mappings_become_file_paths(project: Project) -> None:
    project.set_secrets(
        "secrets:\n  - {name: KUBE, file: kubeconfig, env: KUBECONFIG}\n"
        "  - {name: MISSING, file: absent, env: ABSENT_FILE}\n"
    )
    project.run("sh", "-c", 'echo apiVersion > "$TAZPOD_VAULT/kubeconfig"')
    done = project.run("sh", "-c", 'echo "$KUBECONFIG"; echo "${ABSENT_FILE-unset}"')
    assert done.stdout.splitlines() == [f"{project.secrets}/kubeconfig", "unset"]


def test_wrong_passphrase_is_clear_and_changes_nothing(project: Project) -> None:
    project.run("true")
    before = {p.name: p.read_bytes() for p in project.vault_dir.iterdir()}
    project.passfile.write_text("not the passphrase\n")
    done = project.run("true")
    assert done.returncode == ExitCode.WRONG_PASSPHRASE
    assert "wrong passphrase" in done.stderr and "Traceback" not in done.stderr
    assert {p.name: p.read_bytes() for p in project.vault_dir.iterdir()} == before


def test_passphrase_from_an_inherited_fd(project: Project) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, project.passfile.read_bytes())
    os.close(write_end)
    done = subprocess.run(
        [
            str(project.binary),
            "run",
            "--passphrase-fd",
            str(read_end),
            "--",
            "sh",
            "-c",
            f"ls -l /proc/self/fd/ | grep -c ' {read_end} ->' || true",
        ],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        pass_fds=(read_end,),
        timeout=60,
    )
    os.close(read_end)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # the enclave never inherits the passphrase fd


def test_no_terminal_and_no_passphrase_source(project: Project) -> None:
    done = subprocess.run(
        [str(project.binary), "run", "--", "true"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert done.returncode == ExitCode.USAGE
    assert "no terminal" in done.stderr and "--passphrase-file" in done.stderr


def test_nesting_is_refused(project: Project) -> None:
    done = project.run("sh", "-c", f"{project.binary} run -- true; echo rc=$?")
    assert "already inside an enclave" in done.stderr
    assert f"rc={int(ExitCode.USAGE)}" in done.stdout


def test_not_root_is_a_privilege_error(project: Project) -> None:
    from .conftest import as_user

    done = as_user(project.user, [str(project.binary), "run", "--", "true"], cwd=project.root)
    assert done.returncode == ExitCode.PRIVILEGE
    assert "needs root" in done.stderr and "sudo" in done.stderr


def test_missing_command_program(project: Project) -> None:
    done = project.run("no-such-program-tazpod")
    assert done.returncode != 0
    assert "cannot start 'no-such-program-tazpod'" in done.stderr


def test_half_a_vault_is_refused(project: Project) -> None:
    project.run("true")
    (project.vault_dir / "identity.age").unlink()
    done = project.run("true")
    assert done.returncode == ExitCode.VAULT
    assert "identity.age is missing" in done.stderr
    assert (project.vault_dir / "vault.age").exists()


def test_symlinked_mount_point_is_refused(project: Project, tmp_path: object) -> None:
    home = project.user.home
    victim = home / "victim"
    victim.mkdir(exist_ok=True)
    os.chown(victim, project.user.uid, project.user.gid)
    mount_point = home / "mp"
    project.set_config("  # mount_point: /home/tazpod/secrets", f"  mount_point: {mount_point}")
    mount_point.unlink(missing_ok=True)
    os.symlink(victim, mount_point)
    try:
        done = project.run("true")
        assert done.returncode == ExitCode.VAULT, done.stderr
        assert f"{mount_point}: a symlink or not a directory" in done.stderr
        assert list(victim.iterdir()) == []
    finally:
        mount_point.unlink()
        victim.rmdir()
