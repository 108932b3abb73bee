"""Issue 19, part 3: `tazpod run --mask`: the stream masker, the wrapper's relay, the options."""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tazpod.enclave import opener
from tazpod.secrets import dotenv, masking
from tazpod.secrets.masking import Masker
from tazpod.secrets.value import Secret
from tests.system.ptyutil import PtySession

SECRET = b"hunter2-correct"
RED, RESET = b"\x1b[31m", b"\x1b[0m"


def _through(masker: Masker, pieces: Iterable[bytes]) -> bytes:
    return b"".join(masker.feed(piece) for piece in pieces) + masker.flush()


def _every_split(text: bytes) -> Iterable[list[bytes]]:
    """The text as two writes at every position, and one byte at a time."""
    for cut in range(len(text) + 1):
        yield [text[:cut], text[cut:]]
    yield [bytes([byte]) for byte in text]


def test_a_value_split_at_every_position_never_shows() -> None:
    text = b"token=" + SECRET + b" and again " + SECRET + b"\n"
    for pieces in _every_split(text):
        assert _through(Masker([SECRET]), pieces) == b"token=*** and again ***\n", pieces


def test_a_value_split_at_any_three_positions_never_shows() -> None:
    text = b"a " + SECRET + b" b"
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            pieces = [text[:first], text[first:second], text[second:]]
            assert _through(Masker([SECRET]), pieces) == b"a *** b"


def test_colours_around_and_inside_lines_stay_intact() -> None:
    text = (
        RED + SECRET + RESET + b"\r\n"
        b"password: \x1b[1;32m" + SECRET + b"\x1b[0m (ok)\r\n"
        b"\x1b[38;5;208mplain \x1b[2Kline\x1b[0m " + SECRET
    )
    expected = (
        RED + b"***" + RESET + b"\r\n"
        b"password: \x1b[1;32m***\x1b[0m (ok)\r\n"
        b"\x1b[38;5;208mplain \x1b[2Kline\x1b[0m ***"
    )
    values = [SECRET, b"mplain-looking-value", b"[0m-not-a-colour"]  # begin like the escapes
    for pieces in _every_split(text):
        assert _through(Masker(values), pieces) == expected


def test_overlapping_values_leave_no_piece_of_either() -> None:
    masker = Masker([b"abcdef", b"defghi"])
    assert _through(masker, [b"x abcdefghi y"]) == b"x *** y"
    assert _through(Masker([b"aaaa"]), [b"<aaaaaaa>"]) == b"<***>"
    for pieces in _every_split(b"1 abcdefghi 2 defghi 3 abcdef"):
        assert _through(Masker([b"abcdef", b"defghi"]), pieces) == b"1 *** 2 *** 3 ***"


def test_the_longest_value_wins_where_several_start() -> None:
    values = [b"secret", b"secret-and-more"]
    for pieces in _every_split(b"secret-and-more secret-and secret"):
        assert _through(Masker(values), pieces) == b"*** ***-and ***"


def _reference(text: bytes, values: list[bytes]) -> bytes:
    """Every byte inside any occurrence of any value covered; each covered run one ***."""
    covered = [False] * len(text)
    for value in values:
        for start in range(len(text) - len(value) + 1):
            if text[start : start + len(value)] == value:
                covered[start : start + len(value)] = [True] * len(value)
    out, position = b"", 0
    while position < len(text):
        if covered[position]:
            while position < len(text) and covered[position]:
                position += 1
            out += b"***"
        else:
            out += text[position : position + 1]
            position += 1
    return out


def test_random_texts_and_splits_mask_as_the_reference_does() -> None:
    chance = random.Random(19)  # fixed: a failure can be run again
    alphabet, weights = b"ab\x1b[m\n", [8, 8, 1, 1, 1, 1]  # mostly a and b: many matches

    def some(count: int) -> bytes:
        return bytes(chance.choices(alphabet, weights, k=count))

    for _ in range(1000):
        values = [some(chance.randint(4, 7)) for _ in range(chance.randint(1, 4))]
        text = some(chance.randint(0, 40))
        cuts = sorted(chance.sample(range(len(text) + 1), k=min(len(text) + 1, 5)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert _through(Masker(values), pieces) == _reference(text, values), (values, pieces)


def test_a_value_at_the_very_end_goes_out_masked_at_once() -> None:
    masker = Masker([SECRET])
    assert masker.feed(b"last: " + SECRET) == b"last: ***"
    assert not masker.pending and masker.flush() == b""


def test_only_what_could_begin_a_value_is_held_back() -> None:
    masker = Masker([SECRET])
    assert masker.feed(b"Password: ") == b"Password: "  # a prompt appears at once
    assert masker.feed(b"token hunt") == b"token "
    assert masker.pending
    assert masker.flush() == b"hunt"  # a quiet moment: out it goes...
    assert masker.feed(b"er2-correct!") == b"***!"  # ...and the rest is still hidden


def test_a_multibyte_value_split_inside_a_character() -> None:
    value = "pässwörd-ключ".encode()
    text = b"[" + value + b"]"
    for pieces in _every_split(text):
        assert _through(Masker([value]), pieces) == b"[***]"


def test_no_values_pass_everything_unchanged() -> None:
    masker = Masker([])
    assert masker.feed(b"\x1b[31mred") == b"\x1b[31mred" and not masker.pending


def test_which_values_are_masked() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    wanted = masking.maskable(["abc", "", "abcd", key, "x" * (masking.MAX_LENGTH + 1)])
    assert b"abc" not in wanted and b"abcd" in wanted
    assert key.encode() in wanted and key.replace("\n", "\r\n").encode() in wanted
    assert b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" in wanted and b"-----END KEY-----" in wanted
    assert [len(v) for v in wanted] == sorted((len(v) for v in wanted), reverse=True)
    masker = Masker(wanted)
    shown = _through(masker, [b"key:\r\n", key.replace("\n", "\r\n").encode(), b"\r\n"])
    assert shown == b"key:\r\n***\r\n"
    found = [("SHORT", Secret("abc")), ("EMPTY", Secret("")), ("LONG", Secret("abcd"))]
    assert masking.too_short(found) == ["SHORT"]


def test_the_values_come_from_the_vault_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env-infisical").write_text(
        dotenv.render({"API": Secret("from-infisical"), "not a name": Secret("odd-name-value")})
    )
    (tmp_path / ".env-local").write_text(dotenv.render({"API": Secret("set-by-hand")}))
    (tmp_path / "token").write_text("file-token-value\n")
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nclusters: []\n")
    from tazpod.secrets import mapping_table
    from tazpod.secrets.mappings import SecretMapping

    mappings = [SecretMapping("TOKEN", "token", None), SecretMapping("KUBE", "kubeconfig", "K")]
    (tmp_path / ".tazpod").mkdir()
    mapping_table.record(str(tmp_path), str(tmp_path / "secrets.yml"), mappings)
    found = masking.vault_values(str(tmp_path), {"API": "older-in-env", "HOME": "/home/u"})
    values = sorted(secret.reveal() for _name, secret in found)
    assert values == [
        "file-token-value",
        "from-infisical",
        "odd-name-value",
        "older-in-env",
        "set-by-hand",
    ]


def _masked_run(script: str, values: list[bytes]) -> list[str]:
    """A wrapper process (as `tazpod mask` runs it) that runs ``script`` with sh."""
    code = textwrap.dedent(
        f"""
        import sys
        from tazpod.secrets.masking import Masker
        from tazpod.sysio import filtered
        argv = ["sh", "-c", {script!r}]
        status = filtered.run_filtered(argv, {{"PATH": "/usr/bin:/bin"}},
                                       lambda: Masker({values!r}), "/bin/sh")
        sys.exit(filtered.exit_like(status))
        """
    )
    return [sys.executable, "-c", code]


PRINTS_IN_PIECES = (
    r"printf '\033[31mhunter2-'; printf 'correct\033[0m\n';"
    r" printf 'err: hunter2-correct\n' >&2; "
)


def test_on_pipes_stdout_and_stderr_stay_apart_and_masked() -> None:
    done = subprocess.run(
        _masked_run(PRINTS_IN_PIECES + "exit 3", [SECRET]), capture_output=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == RED + b"***" + RESET + b"\n"
    assert done.stderr == b"err: ***\n"


def test_a_reader_that_had_enough_ends_the_command_as_in_a_pipeline() -> None:
    wrapper = subprocess.Popen(
        _masked_run("exec yes hunter2-correct", [SECRET]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert wrapper.stdout is not None
    assert wrapper.stdout.readline() == b"***\n"
    wrapper.stdout.close()  # `| head -1`
    assert wrapper.wait(timeout=60) == -signal.SIGPIPE


def test_death_by_a_signal_is_passed_on() -> None:
    done = subprocess.run(_masked_run("kill -TERM $$", [SECRET]), capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGTERM


def _on_a_pty(argv: list[str], rows: int, cols: int) -> tuple[int, bytes]:
    import fcntl
    import pty
    import select
    import struct
    import termios

    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, output
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    status = os.waitpid(pid, 0)[1]
    os.close(master)
    return os.waitstatus_to_exitcode(status), output


def test_on_a_terminal_the_command_has_one_masked_with_its_size_and_exit_code() -> None:
    script = PRINTS_IN_PIECES + "test -t 0 && test -t 1 && echo on-a-tty; stty size; exit 5"
    code, output = _on_a_pty(_masked_run(script, [SECRET]), 33, 101)
    assert code == 5, output
    assert SECRET not in output
    assert RED + b"***" + RESET + b"\r\n" in output and b"err: ***\r\n" in output
    assert b"on-a-tty\r\n" in output and b"33 101\r\n" in output


INTERACTIVE = """
import os, signal, sys
def resized(_signum, _frame):
    os.write(1, b"resized %d %d\\n" % os.get_terminal_size(0)[::-1])
signal.signal(signal.SIGWINCH, resized)
os.write(1, b"ready\\n")
line = sys.stdin.readline()
os.write(1, b"got " + line.strip().encode() + b"\\n")
sys.stdin.readline()
"""


def _interactive(tmp_path: Path) -> PtySession:
    argv = _masked_run(f"exec {sys.executable} -c '{INTERACTIVE}'", [SECRET])
    session = PtySession(argv, {"PATH": "/usr/bin:/bin"}, tmp_path)
    session.expect("ready\r\n")
    return session


def test_on_a_terminal_keys_resizes_and_ctrl_c_reach_the_command(tmp_path: Path) -> None:
    import fcntl
    import struct
    import termios

    session = _interactive(tmp_path)
    fcntl.ioctl(session.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 121, 0, 0))
    session.expect("resized 41 121\r\n")
    session.send(SECRET.decode() + "\r")  # the terminal echoes what is typed: masked too
    session.expect("got \\*\\*\\*\r\n")
    session.send("\x03")
    assert session.wait() == -signal.SIGINT
    assert SECRET.decode() not in session.output


def test_run_mask_builds_the_wrapper_and_composes_with_sync(
    monkeypatch: pytest.MonkeyPatch, cli: Callable[..., tuple[int, str, str]]
) -> None:
    from tazpod.cli.commands import run

    seen: dict[str, object] = {}

    def enter(_args: object, _ui: object, command: list[str], forward_inner: list[str]) -> int:
        seen.update(command=command, inner=forward_inner)
        return 0

    monkeypatch.setattr(run, "enter_enclave", enter)
    tazpod = [sys.executable, "-I", "-m", "tazpod"]
    assert cli("run", "--mask", "--", "env", "-0")[0] == 0
    assert seen == {
        "command": [*tazpod, "mask", "--", "env", "-0"],
        "inner": ["run", "--mask", "--", "env", "-0"],
    }
    assert cli("run", "--sync", "--mask", "--", "env")[0] == 0
    assert seen["command"] == [*tazpod, "pull", "--exec", "--", *tazpod, "mask", "--", "env"]
    assert seen["inner"] == ["run", "--sync", "--mask", "--", "env"]


@pytest.mark.parametrize(
    "request_, expected",
    [
        ({"op": "run", "mask": True, "command": ["env"]}, ["run", "--mask", "--", "env"]),
        (
            {"op": "run", "mask": True, "sync": True, "command": ["id"]},
            ["run", "--sync", "--mask", "--", "id"],
        ),
        ({"op": "run", "mask": "--passphrase-file=x", "command": ["id"]}, ["run", "--", "id"]),
        ({"op": "run", "mask": 1, "command": ["id"]}, ["run", "--", "id"]),
    ],
)
def test_the_opener_passes_mask_as_a_boolean_only(
    request_: dict[str, object], expected: list[str]
) -> None:
    assert opener.inner_argv(request_, passphrase=False) == expected


def test_a_users_run_mask_in_the_container_asks_the_opener_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tazpod.cli import entry
    from tazpod.enclave import opener_client

    asked: list[tuple[tuple[object, ...], dict[str, object]]] = []

    def request(*args: object, **kwargs: object) -> int:
        asked.append((args, kwargs))
        return 0

    monkeypatch.setattr(opener_client, "request", request)
    args = argparse.Namespace(passphrase_file=None, passphrase_fd=None)
    entry._through_opener(args, ["run", "--mask", "--", "ls", "--mask"])
    entry._through_opener(args, ["run", "--", "ls", "--mask"])
    assert [(a, k["options"]) for a, k in asked] == [
        (("run", ["ls", "--mask"]), ["--mask"]),  # the options before --, not the command's
        (("run", ["ls", "--mask"]), []),
    ]


def test_mask_outside_an_enclave_or_without_a_command_is_refused(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAZPOD_GHOST_MODE", raising=False)
    code, _, err = cli("mask", "--", "true")
    assert code == 2 and "not inside an enclave" in err
    code, _, err = cli("mask", "--")
    assert code == 2 and "no command to run" in err
