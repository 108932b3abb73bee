"""Attack review (issue 16): a settings file replaced from the container by a link (to
/etc/shadow, say) or a fifo made host-side tazpod read what the link chose, as root under
sudo, and quote it in errors. Now the link is refused by name, before anything is read,
and a fifo does not block; a link put where a cached file was finds no cached parse.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tazpod.errors import ExitCode

Cli = Callable[..., tuple[int, str, str]]


def test_a_linked_config_or_secrets_file_is_refused_unread(in_tmp: Path, cli: Cli) -> None:
    assert cli("init", "base")[0] == 0
    assert cli("status")[0] == 0  # parsed once: the cache holds the real file's parse
    config = in_tmp / ".tazpod" / "config.yaml"
    chosen = in_tmp / "chosen.yaml"
    chosen.write_text("SECRET-LINE: from a file the link chose\n")
    real = in_tmp / "config.real"
    config.rename(real)
    config.symlink_to(chosen)
    code, out, err = cli("status")
    assert code == ExitCode.CONFIG, err
    assert f"{config} is a symbolic link" in err and "SECRET-LINE" not in out + err
    config.unlink()
    config.symlink_to(real)  # the real settings, through a link: refused too (no cache hit)
    code, _out, err = cli("status")
    assert code == ExitCode.CONFIG and "is a symbolic link" in err
    config.unlink()
    real.rename(config)
    secrets = in_tmp / "secrets.yml"
    secrets.rename(in_tmp / "secrets.real")
    secrets.symlink_to(chosen)
    code, out, err = cli("status")
    assert code == ExitCode.CONFIG and f"{secrets} is a symbolic link" in err, err
    assert "SECRET-LINE" not in out + err


def test_a_fifo_for_a_settings_file_does_not_block(in_tmp: Path, cli: Cli) -> None:
    assert cli("init", "base")[0] == 0
    secrets = in_tmp / "secrets.yml"
    secrets.unlink()
    os.mkfifo(secrets)
    code, _out, err = cli("status")
    assert code == ExitCode.CONFIG and f"{secrets} is not a regular file" in err, err
