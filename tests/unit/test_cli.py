"""The command surface: version, help, status, error mapping, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tazpod import __version__
from tazpod.errors import ExitCode

Cli = Callable[..., tuple[int, str, str]]


def test_version(cli: Cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"tazpod {__version__}"


def test_no_command_prints_help_and_usage_code(cli: Cli) -> None:
    code, _, err = cli()
    assert code == ExitCode.USAGE and "init" in err


def test_unknown_command(cli: Cli) -> None:
    code, _, err = cli("frobnicate")
    assert code == ExitCode.USAGE and "unknown command 'frobnicate'" in err
    assert "tazpod --help" in err


def test_help_lists_every_command(cli: Cli) -> None:
    from tazpod.cli.commands import NAMES

    code, out, _ = cli("--help")
    assert code == 0 and out.startswith("usage: tazpod")
    for name in NAMES:
        assert f"  {name}" in out
    assert "pull (sync)" in out and "ssh (enter)" in out


def test_command_help_and_argument_errors(cli: Cli) -> None:
    code, out, _ = cli("run", "--help")
    assert code == 0 and "--passphrase-file" in out and "--sync" in out
    code, _, err = cli("run", "--passphrase-fd", "x")
    assert code == ExitCode.USAGE and "invalid int value" in err


def test_aliases_reach_their_command(in_tmp: Path, cli: Cli) -> None:
    code, _, err = cli("sync")
    assert code == ExitCode.CONFIG and "no tazpod project" in err


def test_completion_parser_knows_every_command() -> None:
    from tazpod.cli.commands import NAMES
    from tazpod.cli.main import full_parser

    parser = full_parser()
    needs_action = {
        "secrets": ["list"],
        "vault": ["status"],
        "image": ["bootstrap"],
        "workspace": ["files"],
    }
    for name in NAMES:
        parsed = parser.parse_args([name, *needs_action.get(name, [])])
        assert parsed.command in (name, f"vault_{needs_action.get(name, [''])[0]}")


def test_status_without_project(in_tmp: Path, cli: Cli) -> None:
    code, _, err = cli("status")
    assert code == ExitCode.CONFIG
    assert err.startswith("tazpod: no tazpod project") and "hint: run `tazpod init`" in err


def test_status_summarises_config_and_warns(in_tmp: Path, cli: Cli) -> None:
    cli("init", "gemini")
    config = in_tmp / ".tazpod/config.yaml"
    config.write_text(config.read_text() + "colour: blue\n")
    code, out, err = cli("status")
    assert code == 0
    assert "vertical:    gemini" in out and "vault:       ram, 64 MiB" in out
    assert "0 mapped" in out and "environment dev" in out
    assert "warning:" in err and "colour: unknown key" in err


def test_status_from_a_subdirectory(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("init")
    (in_tmp / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(in_tmp / "src" / "deep")
    code, out, _ = cli("status")
    assert code == 0 and f"project:     {in_tmp}" in out


def test_bad_config_is_a_clear_error_not_a_traceback(in_tmp: Path, cli: Cli) -> None:
    cli("init")
    (in_tmp / ".tazpod/config.yaml").write_text("image: x\ncontainer_name: c\nuser: [a]\n")
    code, _, err = cli("status")
    assert code == ExitCode.CONFIG
    assert "config.yaml:3: user:" in err and "Traceback" not in err


def test_internal_error_hides_details_without_debug(
    in_tmp: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tazpod.cli.commands.status as status

    def boom(*_: object) -> int:
        raise RuntimeError("secret-value-must-not-leak")

    monkeypatch.setattr(status, "run", boom)
    code, _, err = cli("status")
    assert code == ExitCode.INTERNAL
    assert "internal error: RuntimeError" in err and "secret-value" not in err
    code, _, err = cli("--debug", "status")
    assert code == ExitCode.INTERNAL and "Traceback" in err


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["init", "--help"]])
def test_fast_paths_do_not_import_heavy_modules(argv: list[str]) -> None:
    probe = (
        "import sys, json\n"
        "from tazpod.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    heavy_modules: tuple[str, ...] = ("docker", "kubernetes", "ruamel", "pyrage", "requests")
    if argv in (["--version"], ["--help"]):
        heavy_modules += ("argparse", "typing", "tazpod.errors", "dataclasses")
    for heavy in heavy_modules:
        assert not any(m == heavy or m.startswith(heavy + ".") for m in modules), heavy


def test_mistyped_command_option_and_action_get_a_suggestion(cli: Cli) -> None:
    code, _, err = cli("sttaus")
    assert code == ExitCode.USAGE and "unknown command 'sttaus'" in err
    assert "did you mean 'status'?" in err
    code, _, err = cli("--versoin")
    assert code == ExitCode.USAGE and "unknown option '--versoin'" in err
    assert "did you mean '--version'?" in err
    code, _, err = cli("vault", "stat")
    assert code == ExitCode.USAGE
    assert err.startswith("tazpod: vault: argument ACTION: invalid choice: 'stat'")
    assert "hint: did you mean 'status'?" in err and "usage:" not in err


def test_second_level_commands_have_descriptions(cli: Cli) -> None:
    from tazpod.cli.commands import ACTION_SUMMARIES

    for words in (("vault", "status"), ("secrets", "set"), ("workspace", "push")):
        code, out, _ = cli(*words, "--help")
        assert code == 0, words
        description = out.split("\n\n")[1].strip()
        assert description and not description.startswith(("positional", "options")), words
    code, out, _ = cli("vault", "migrate", "--help")
    assert ACTION_SUMMARIES["vault_migrate"] in out


def test_a_closed_pipe_is_no_internal_error(in_tmp: Path) -> None:
    """`tazpod status | head -1`: the reader stops early (here: at once); tazpod ends quietly."""
    launcher = Path(sys.executable).with_name("tazpod")
    subprocess.run([str(launcher), "init", "base"], cwd=in_tmp, check=True, capture_output=True)
    done = subprocess.run(
        ["sh", "-c", f"'{launcher}' status | true"],
        cwd=in_tmp,
        capture_output=True,
        text=True,
    )
    assert "internal error" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
