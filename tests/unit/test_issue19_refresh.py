"""Issue 19 (5): the enclave shell's live refresh, its start-up files and the generation.

The shells run here for real (bash and zsh, interactive, outside any enclave) with a
stand-in `tazpod` on PATH that counts its runs: the hook must start it once per new
generation, never at a prompt where nothing changed, and keep the user's own hooks.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from tazpod.enclave import shellstate
from tazpod.secrets import generation, mapping_table
from tazpod.secrets import store as secretstore
from tazpod.secrets.value import Secret

FAKE_TAZPOD = """\
#!/bin/sh
[ "$1" = env ] || exit 2
echo run >> "$COUNT"
n=0
while read -r _; do n=$((n + 1)); done < "$COUNT"
echo "export PROBE='run $n'"
echo "unset GONE"
"""


def _vault(tmp_path: Path) -> Path:
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    shellstate.write_shell_files(vault)
    generation.bump(vault)  # as the enclave's opening does (tazpod.enclave.service)
    return vault


def _shell_env(tmp_path: Path, vault: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tazpod"
    fake.write_text(FAKE_TAZPOD)
    fake.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TAZPOD_VAULT": str(vault),
        "COUNT": str(tmp_path / "count"),
        "GONE": "still here",
        shellstate.GENERATION_ENV: generation.read(vault),
        "ZDOTDIR": str(vault / ".tazpod"),
    }


def _runs(tmp_path: Path) -> int:
    count = tmp_path / "count"
    return len(count.read_text().splitlines()) if count.exists() else 0


# Each line is read at its own prompt: the hook runs before every one of them.
SESSION = """\
echo "first=[${PROBE-}] gone=[${GONE-}]"
echo "quiet=$(cat "$COUNT" 2>/dev/null | wc -l)"
echo "still=$(cat "$COUNT" 2>/dev/null | wc -l)"
echo feedfacefeedfacefeedface > "$TAZPOD_VAULT/.tazpod/generation"
echo "second=[${PROBE-}] gone=[${GONE-}]"
false
echo "status=$?"
echo "third=[${PROBE-}]"
"""


def _session(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, input=SESSION, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _check_session(out: str, tmp_path: Path) -> None:
    assert "first=[] gone=[still here]" in out, out
    # No run while the generation is the one the shell started with, whatever the prompts.
    assert "quiet=0" in out and "still=0" in out, out
    assert "second=[run 1] gone=[]" in out, out  # applied, `unset` lines included
    assert "status=1" in out, out  # the hook keeps the last command's status
    assert "third=[run 1]" in out, out  # once per generation
    assert _runs(tmp_path) == 1


USER_HOOKS = {
    "none": "",
    "string": "PROMPT_COMMAND='echo user-hook-ran'\n",
    "string ending in ;": "PROMPT_COMMAND='echo user-hook-ran;'\n",
    "array": "PROMPT_COMMAND=('echo user-hook-ran' 'echo user-hook-two')\n",
}


@pytest.mark.parametrize("user_hook", sorted(USER_HOOKS))
def test_bash_refreshes_at_the_prompt_after_a_new_generation_only(
    tmp_path: Path, user_hook: str
) -> None:
    vault = _vault(tmp_path)
    (vault / ".bashrc").write_text(USER_HOOKS[user_hook])
    rc = str(vault / ".tazpod" / shellstate.RC_NAME)
    out = _session(["bash", "--noprofile", "--rcfile", rc, "-i"], _shell_env(tmp_path, vault))
    _check_session(out, tmp_path)
    if user_hook != "none":  # appended to the user's PROMPT_COMMAND, never replacing it
        assert out.count("user-hook-ran") == SESSION.count("\n") + 1, out
    if user_hook == "array":
        assert out.count("user-hook-two") == SESSION.count("\n") + 1, out


def test_a_shell_offered_no_generation_gets_no_hook(tmp_path: Path) -> None:
    """A shell with a grant: `tazpod env` in its view would see only the grant."""
    vault = _vault(tmp_path)
    env = _shell_env(tmp_path, vault)
    del env[shellstate.GENERATION_ENV]
    rc = str(vault / ".tazpod" / shellstate.RC_NAME)
    session = 'declare -F __tazpod_refresh || echo "no hook"\n' + SESSION
    done = subprocess.run(
        ["bash", "--noprofile", "--rcfile", rc, "-i"],
        input=session,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "no hook" in done.stdout and "second=[] gone=[still here]" in done.stdout, done.stdout
    assert _runs(tmp_path) == 0


def test_zsh_refreshes_from_precmd(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    _check_session(_session(["zsh", "-i"], _shell_env(tmp_path, vault)), tmp_path)


@pytest.mark.parametrize(
    ("shell", "name"),
    [
        ("bash", shellstate.RC_NAME),
        ("sh", shellstate.RC_NAME),  # dash reads it through $ENV: the bash parts are sourced
        ("bash", shellstate.REFRESH_NAME),
        ("zsh", shellstate.REFRESH_NAME),
        ("zsh", shellstate.ZSHRC_NAME),
    ],
)
def test_the_start_up_files_parse(tmp_path: Path, shell: str, name: str) -> None:
    vault = _vault(tmp_path)
    path = vault / ".tazpod" / name
    assert path.stat().st_mode & 0o777 == 0o600
    done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_dash_reads_the_start_up_file_without_error(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    env = {**_shell_env(tmp_path, vault), "ENV": str(vault / ".tazpod" / shellstate.RC_NAME)}
    done = subprocess.run(
        ["sh", "-i"], input="echo ps1=$PS1\n", env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "ps1=(enclave)" in done.stdout, done.stdout + done.stderr
    assert "refresh" not in done.stderr and _runs(tmp_path) == 0, done.stderr


def test_bump_replaces_the_token_atomically_and_read_returns_it(tmp_path: Path) -> None:
    vault = _vault(tmp_path)  # the opening's bump
    first = generation.read(vault)
    assert len(first) == 24 and first.isalnum()
    generation.bump(vault)
    second = generation.read(str(vault))
    assert second not in ("", first)
    path = Path(generation.path(vault))
    assert path.read_text() == second + "\n" and path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir() if "generation" in p.name) == ["generation"]


def test_no_control_directory_no_generation(tmp_path: Path) -> None:
    generation.bump(tmp_path)  # no enclave opened here: nobody to tell, nothing written
    assert list(tmp_path.iterdir()) == [] and generation.read(tmp_path) == ""


def test_read_follows_no_link_and_reads_no_fifo(tmp_path: Path) -> None:
    elsewhere = _vault(tmp_path)
    vault = tmp_path / "other"
    vault.mkdir()
    (vault / ".tazpod").symlink_to(elsewhere / ".tazpod")
    assert generation.read(vault) == ""  # the directory is a link
    (vault / ".tazpod").unlink()
    (vault / ".tazpod").mkdir()
    (vault / ".tazpod" / "generation").symlink_to(elsewhere / ".tazpod" / "generation")
    assert generation.read(vault) == ""  # the file is a link
    (vault / ".tazpod" / "generation").unlink()
    os.mkfifo(vault / ".tazpod" / "generation")
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(generation.read(vault)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert result == [""]  # returned at once, without a writer on the FIFO
    (vault / ".tazpod" / "generation").unlink()
    (vault / ".tazpod" / "generation").write_text("not a token; rm -rf\n")
    assert generation.read(vault) == ""


def test_every_change_of_the_secrets_bumps_the_generation(tmp_path: Path) -> None:
    vault = _vault(tmp_path)
    seen = {generation.read(vault)}

    def changed() -> bool:
        now = generation.read(vault)
        fresh = now not in seen
        seen.add(now)
        return fresh

    secretstore.set_local(vault, "A", Secret("a"))
    assert changed()
    secretstore.import_local(vault, {"B": Secret("b")})
    assert changed()
    assert secretstore.unset_local(vault, "A") and changed()
    assert not secretstore.unset_local(vault, "A") and not changed()  # nothing to remove
    secretstore.replace_all(vault, {secretstore.INFISICAL_ENV: b"", "kube": b"k"})  # a pull
    assert changed()


def test_a_new_table_of_mappings_bumps_the_generation_an_unchanged_one_not(
    tmp_path: Path,
) -> None:
    vault = str(_vault(tmp_path))
    before = generation.read(vault)
    rows = [("KUBE", "kube", "KUBECONFIG")]
    assert mapping_table.write(vault, "key-1", rows) is None
    first = generation.read(vault)
    assert first != before
    assert mapping_table.write(vault, "key-2", rows) is None  # secrets.yml touched, same rows
    assert generation.read(vault) == first
    assert mapping_table.write(vault, "key-3", [("KUBE", "kube", "KUBE2")]) is None
    assert generation.read(vault) not in (first, before)
