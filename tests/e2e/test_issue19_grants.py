"""Issue 19 in a dev container: a grant's view is made by the enclave's namespace root (no
CAP_SYS_ADMIN in the container), from the host and from a plain session in the container
(root's opener passes --only on); values come as files, a FIFO gives its text once."""

from __future__ import annotations

from .conftest import Pod, approve

INSIDE_PASSFILE = "/workspace/.passphrase"
ALPHA = "alpha-7d3e9b1c"
BETA = "beta-2a8f6c40"
ONCE = "once-5c1e0b93"


def _inside(pod: Pod, script: str, stdin: str | None = None) -> tuple[int, str, str]:
    done = pod.tazpod("exec", "--", "sh", "-c", script, input=stdin, timeout=300)
    return done.returncode, done.stdout, done.stderr


LOOK = (
    'env | grep -e ALPHA -e BETA -e FIFO; echo "--"; ls -A "$TAZPOD_VAULT"; echo "--";'
    ' for f in "$TAZPOD_VAULT"/.[!.]* "$TAZPOD_VAULT"/.tazpod/values/*; do'
    ' [ -f "$f" ] && cat "$f"; done 2>/dev/null; echo "--";'
    ' for p in /proc/[0-9]*; do cat "$p/environ" "$p/root$TAZPOD_VAULT/.env-local"; done'
    " 2>/dev/null | tr '\\0' '\\n'; true"
)


def test_grants_and_delivery_in_the_container(pod: Pod) -> None:
    (pod.root / "secrets.yml").write_text("config: {}\ndelivery:\n  ONCE: fifo\n")
    approve(pod.root)
    up = pod.tazpod("up")
    assert up.returncode == 0, up.stderr[-2000:]
    run = f"tazpod run --passphrase-file {INSIDE_PASSFILE}"
    dotenv = f"ALPHA={ALPHA}\nBETA={BETA}\nONCE={ONCE}\n"
    code, _out, err = _inside(
        pod,
        f"cat > /tmp/import.env && {run} -- tazpod secrets import /tmp/import.env"
        " && rm /tmp/import.env",
        stdin=dotenv,
    )
    assert code == 0, err[-2000:]

    # from a plain session in the container, through root's opener
    code, out, err = _inside(pod, f"{run} --only ALPHA -- sh -c '{LOOK}'")
    assert code == 0, err[-2000:]
    env, listing, contents, _proc = out.split("--\n")  # (_proc: in `out` below)
    assert sorted(env.split()) == [
        "ALPHA_FILE=/home/tazpod/secrets/.tazpod/values/ALPHA",
        "TAZPOD_GRANT=ALPHA",  # what it was given, by name
    ]
    assert sorted(listing.split()) == [".tazpod"]
    assert ALPHA in contents
    for value in (BETA, ONCE):
        assert value not in out, value

    # a grant's command would ask root's opener for the whole vault (on the user's terminal,
    # or with the user's passphrase file): the opener's socket is not in its sight
    connect = (
        "import socket; s = socket.socket(socket.AF_UNIX);"
        " s.connect('/run/tazpod-opener.sock'); print('connected')"
    )
    code, out, err = _inside(pod, f'{run} --only ALPHA -- /opt/tazpod/bin/python -c "{connect}"')
    assert "connected" not in out and "PermissionError" in err, (out, err)  # root's stand-in
    code, out, err = _inside(pod, f'{run} -- /opt/tazpod/bin/python -c "{connect}"')
    assert "connected" in out, err  # (the whole enclave's commands see it: the control)

    # from the host: the same command forwarded into the container
    done = pod.tazpod(
        "run", "--only", "BETA", "--passphrase-file", str(pod.passfile), "--", "sh", "-c", LOOK
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert BETA in done.stdout and ALPHA not in done.stdout and ONCE not in done.stdout

    # the whole enclave: files by default, the FIFO once, no value in any environ
    code, out, err = _inside(
        pod,
        f'{run} -- sh -c \'cat "$ALPHA_FILE"; echo; cat "$TAZPOD_ENV_FIFO";'
        ' cat "$TAZPOD_ENV_FIFO" 2>/dev/null || echo read-once;'
        ' cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c -e alpha- -e once-\'',
    )
    lines = out.splitlines()
    assert lines[0] == ALPHA and f"ONCE='{ONCE}'" in out and "read-once" in out, (out, err)
    assert lines[-1] == "0", out  # grep -c: no environ holds a value
