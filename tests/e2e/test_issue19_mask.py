"""Issue 19, part 3: `tazpod run --mask` in the dev container: from a shell there, on a
terminal, through root's opener (--mask crosses it as a boolean), and from the host,
forwarded into the container (--mask in the forwarded command line)."""

from __future__ import annotations

import os

from tests.system.ptyutil import PtySession

from .conftest import Pod, _tazpod

SECRET = "e2e-masked-secret-91"
INSIDE_PASSFILE = "/workspace/.passphrase"
RED, RESET = "\x1b[31m", "\x1b[0m"
# API_TOKEN in red, in two writes, read in the enclave (never in this argv).
SCRIPT = (
    # (delivered as a file, by default: the command reads it, then prints it in two writes)
    r"""API_TOKEN=$(cat "$API_TOKEN_FILE");"""
    r""" printf '\033[31m%.5s' "$API_TOKEN"; printf '%s\033[0m\n' "${API_TOKEN#?????}";"""
    " test -t 1 && echo tty-yes; stty size 2>/dev/null; exit 7"
)


def test_issue19_run_mask_through_the_opener_and_forwarded_from_the_host(pod: Pod) -> None:
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    run_inside = ["tazpod", "run", "--passphrase-file", INSIDE_PASSFILE]
    put = pod.tazpod(
        "exec",
        "--",
        *run_inside,
        "--",
        "sh",
        "-c",
        f'echo "API_TOKEN={SECRET}" > "$TAZPOD_VAULT/.env-local"',
    )
    assert put.returncode == 0, put.stderr[-2000:]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
    argv = [_tazpod(), "exec", "--", *run_inside[:2], "--mask", *run_inside[2:]]
    session = PtySession([*argv, "--", "sh", "-c", SCRIPT], env, pod.root, (30, 90))
    assert session.wait(timeout=300) == 7, session.output
    assert "runs `tazpod run --mask --passphrase-fd 3 -- sh -c" in session.output
    assert SECRET not in session.output
    assert f"{RED}***{RESET}\r\n" in session.output
    assert "tty-yes\r\n" in session.output and "30 90\r\n" in session.output

    forwarded = pod.tazpod(
        "run", "--mask", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", SCRIPT
    )
    assert forwarded.returncode == 7, forwarded.stderr[-2000:]
    assert "entering container" in forwarded.stderr
    assert forwarded.stdout.splitlines() == [f"{RED}***{RESET}"]
    assert SECRET not in forwarded.stdout + forwarded.stderr
