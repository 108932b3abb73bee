"""Issue 19, part 3: `tazpod run --mask`: the vault's values hidden in a command's output,
its terminal still a terminal (colours, isatty, window size) and its exit code passed on."""

from __future__ import annotations

import os

from tests.support.infisical_server import ApiState, InfisicalServer

from .conftest import Project
from .ptyutil import PtySession

SECRET = "s3cr3t-mask-value-42"
FILE_SECRET = "file-token-7f3a9c"
SHORT = "ab1"
RED, RESET = "\x1b[31m", "\x1b[0m"

# Prints the secrets (read in the enclave, never in this argv): API_TOKEN in red, in two
# writes; the mapped file; API_TOKEN on stderr; then what the terminal looks like.
SCRIPT = (
    r"""printf '\033[31m%.5s' "$API_TOKEN"; printf '%s\033[0m\n' "${API_TOKEN#?????}";"""
    r""" cat "$TOKEN_FILE"; printf 'err %s\n' "$API_TOKEN" >&2; echo "short $SHORT";"""
    " test -t 0 && test -t 1 && echo tty-yes; stty size 2>/dev/null; exit 7"
)


def _vault_with_secrets(project: Project) -> None:
    project.set_secrets(
        "secrets:\n  - {name: TOKEN, file: token, env: TOKEN_FILE}\n"
        "delivery:\n  API_TOKEN: env\n  SHORT: env\n"  # values in the command's environment
    )
    pf = str(project.passfile)
    for name, value in (("API_TOKEN", SECRET), ("SHORT", SHORT)):
        done = project.tazpod("secrets", "set", "--passphrase-file", pf, name, input=value)
        assert done.returncode == 0, done.stderr
    done = project.run("sh", "-c", f'echo {FILE_SECRET} > "$TAZPOD_VAULT/token"')
    assert done.returncode == 0, done.stderr


def test_issue19_masked_output_on_a_terminal_keeps_colours_size_and_exit_code(
    project: Project,
) -> None:
    _vault_with_secrets(project)
    argv = [str(project.binary), "run", "--mask", "--passphrase-file", str(project.passfile)]
    session = PtySession([*argv, "--", "sh", "-c", SCRIPT], project.env(), project.root, (33, 101))
    assert session.wait() == 7
    output = session.output
    assert SECRET not in output and FILE_SECRET not in output
    assert f"{RED}***{RESET}\r\n" in output  # the colour escapes are intact around it
    assert "\r\n***\r\n" in output and "err ***\r\n" in output
    assert "tty-yes\r\n" in output and "33 101\r\n" in output
    assert f"short {SHORT}\r\n" in output  # too short to hide, and said so (by name)
    assert "not masked, shorter than 4 characters: SHORT" in output


def test_issue19_masked_output_on_pipes_keeps_stdout_and_stderr_apart(project: Project) -> None:
    _vault_with_secrets(project)
    pf = str(project.passfile)
    plain = project.tazpod("run", "--passphrase-file", pf, "--", "sh", "-c", SCRIPT)
    assert plain.returncode == 7 and SECRET in plain.stdout  # what --mask hides
    done = project.tazpod("run", "--mask", "--passphrase-file", pf, "--", "sh", "-c", SCRIPT)
    assert done.returncode == 7, done.stderr
    assert done.stdout.splitlines() == [f"{RED}***{RESET}", "***", f"short {SHORT}"]
    assert "err ***\n" in done.stderr
    assert SECRET not in done.stdout + done.stderr and FILE_SECRET not in done.stdout


def test_issue19_run_sync_mask_hides_what_the_pull_just_brought(project: Project) -> None:
    """`run --sync --mask`: pull --exec starts the wrapper, which reads the fresh vault
    (the pulled secret) and the login (its client secret)."""
    client_id, client_secret, pulled = "mask-client", "mask-client-secret", "pulled-value-123"
    state = ApiState(identities={client_id: client_secret})
    state.add_secrets("proj-mask", "dev", {"DB_PASSWORD": pulled})
    with InfisicalServer(state) as api:
        project.set_secrets(
            f"config:\n  infisical_project_id: proj-mask\n  infisical_url: {api.url}/api\n"
            "delivery:\n  DB_PASSWORD: env\n"
        )
        secret_file = project.root / "client-secret"
        secret_file.write_text(client_secret + "\n")
        os.chown(secret_file, project.user.uid, project.user.gid)
        secret_file.chmod(0o600)
        pf = str(project.passfile)
        login = ["login", "--passphrase-file", pf, "--client-id", client_id]
        done = project.tazpod(*login, "--client-secret-file", str(secret_file))
        assert done.returncode == 0, done.stderr
        script = (
            'printf "%s\\n" "$DB_PASSWORD";'
            f' grep -o {client_secret} "$TAZPOD_VAULT/.infisical-auth.json"'
        )
        done = project.tazpod(
            "run", "--sync", "--mask", "--passphrase-file", pf, "--", "sh", "-c", script
        )
    assert done.returncode == 0, done.stderr
    assert "added 1: DB_PASSWORD" in done.stderr
    assert done.stdout.splitlines() == ["***", "***"]
    assert pulled not in done.stdout + done.stderr
