"""Dotenv files and `tazpod env` output: exact round trips and no injection, ever."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tazpod.secrets import dotenv
from tazpod.secrets.shell import plan, render
from tazpod.secrets.value import Secret

HOSTILE = {
    "SINGLE": "it's a 'quoted' value",
    "DOUBLE": 'say "hi" \\" there',
    "DOLLAR": "$HOME ${{PATH}} $(touch {marker}) `touch {marker}`",
    "NEWLINES": "line one\nline two\n\nend\n",
    "BACKSLASH": "C:\\path\\to\\n\\t\\\\",
    "UNICODE": "пароль — 密码 — 🔑",
    "INJECT": "'; touch {marker}; echo '",
    "SEMI": "a; touch {marker} # ",
    "EMPTY": "",
    "SPACES": "  leading and trailing  ",
    "CR": "windows\r\nline",
}


def hostile(marker: Path) -> dict[str, Secret]:
    return {k: Secret(v.format(marker=marker)) for k, v in HOSTILE.items()}


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in repr({"k": secret})
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)


def test_dotenv_round_trip(tmp_path: Path) -> None:
    values = hostile(tmp_path / "pwned")
    assert dotenv.read_text(dotenv.render(values), "x").values == values


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_dotenv_is_read_back_exactly_by_shells(tmp_path: Path, shell: str) -> None:
    marker = tmp_path / "pwned"
    values = hostile(marker)
    env_file = tmp_path / "env"
    env_file.write_text(dotenv.render(values))
    for name, value in values.items():
        done = subprocess.run(
            [shell, "-c", f'. "{env_file}"; printf "%s" "${name}"'],
            capture_output=True,
            check=True,
        )
        assert done.stdout.decode() == value.reveal(), name
    assert not marker.exists()


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_eval_of_tazpod_env_is_injection_proof(tmp_path: Path, shell: str) -> None:
    marker = tmp_path / "pwned"
    values = hostile(marker)
    output = render(plan(values, {"KUBECONFIG": "/v/kube config"}, ["GONE", "KUBECONFIG"]))
    script = tmp_path / "out"
    script.write_text(output)
    names = [*values, "KUBECONFIG"]
    probe = "; ".join(f'printf "%s\\0" "${n}"' for n in names)
    done = subprocess.run(
        [
            shell,
            "-c",
            f'GONE=old; eval "$(cat "{script}")"; {probe}; printf "%s" "${{GONE-unset}}"',
        ],
        capture_output=True,
        check=True,
    )
    *printed, gone = done.stdout.decode().split("\0")
    assert printed == [v.reveal() for v in values.values()] + ["/v/kube config"]
    assert gone == "unset"
    assert not marker.exists()


def test_unusable_names_are_skipped_not_rendered() -> None:
    result = plan(
        {
            "my-key": Secret("x"),
            "PATH": Secret("/evil"),
            "TAZPOD_VAULT": Secret("y"),
            "OK": Secret("z"),
        },
        {},
        [],
    )
    assert sorted(result.skipped) == ["PATH", "TAZPOD_VAULT", "my-key"]
    assert render(result) == "export OK='z'\n"


def test_other_dotenv_dialects() -> None:  # python-dotenv's readings (issue 17)
    text = (
        "# comment\n"
        "export A=plain\n"
        'B="double \\"q\\" \\n newline \\$x"\n'
        "C='single # not comment'\n"
        "D=value # trailing comment\n"
        "E=\n"
        'F="multi\nline"\n'
        "G=con'cat'\"enated\"\n"
    )
    values = {k: v.reveal() for k, v in dotenv.parse_import(text, "f").values.items()}
    assert values == {
        "A": "plain",
        "B": 'double "q" \n newline \\$x',
        "C": "single # not comment",
        "D": "value",
        "E": "",
        "F": "multi\nline",
        "G": "con'cat'\"enated\"",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GOOD=1\n=nokey\n", "f:2: expected NAME=value"),
        ("A 1\n", "f:1: expected '=' after A"),
        ("A='open\n\nB=2\n", "f:1: A: unterminated ' quote"),
        ("A='x' junk\n", "f:1: A: unexpected text after the value"),
    ],
)
def test_dotenv_errors_name_the_line(text: str, message: str) -> None:
    problems = [str(p) for p in dotenv.parse_import(text, "f").problems]
    assert problems and problems[0].startswith(message), problems
