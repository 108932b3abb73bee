"""`tazpod login`: authenticate to Infisical; the session is kept only in the vault.

Default: a machine identity (Universal Auth client id + secret), stored in the
vault; its access tokens are renewed as they expire. `--cli`: the Infisical
CLI's own user login, whose state lives in the bridged ~/.infisical and
~/infisical-keyring.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

from tazpod.cli.context import (
    inside_enclave,
    load_context,
    require_secrets,
)
from tazpod.cli.entry import rerun_in_enclave
from tazpod.cli.options import passphrase_options
from tazpod.cli.ui import UI
from tazpod.errors import SecretsError, UsageError


def _client_secret(args: argparse.Namespace) -> str:
    if args.client_secret_file:
        try:
            text = Path(args.client_secret_file).read_text().split("\n", 1)[0].strip()
        except OSError as err:
            raise UsageError(f"cannot read {args.client_secret_file}: {err.strerror}") from err
    elif not sys.stdin.isatty():
        text = sys.stdin.readline().strip()
    else:
        text = getpass.getpass("Infisical client secret (not shown): ").strip()
    if not text:
        raise UsageError("the client secret is empty")
    return text


def _cli_login(url: str, ui: UI) -> int:
    from tazpod.sources import infisical_cli
    from tazpod.sources.infisical import site_root
    from tazpod.sysio.environ import Inherit, child_env
    from tazpod.sysio.run import run as run_command

    cli = infisical_cli.cli_path()
    if cli is None:
        raise SecretsError(
            "the Infisical CLI is not installed in this environment",
            hint="use a machine identity instead: tazpod login --client-id ID",
        )
    command = [cli, "login", f"--domain={site_root(url)}/api"]
    # The user's own interactive login on their terminal (browser, proxies, locale): their
    # whole environment, with HOME the enclave user's (where the bridged session lives).
    env = child_env({"HOME": str(Path.home())}, inherit=Inherit.EVERYTHING)
    done = run_command(command, env=env, capture=False, check=False)
    if done.returncode == 0:
        user = infisical_cli.session_user(Path.home())
        ui.info(
            f"Infisical CLI logged in{f' as {user}' if user else ''}; its session is in the vault"
        )
    return done.returncode


def configure(parser: argparse.ArgumentParser) -> None:
    passphrase_options(parser)
    parser.add_argument("--client-id", metavar="ID", help="machine identity client id")
    parser.add_argument(
        "--client-secret-file", metavar="FILE", help="read the client secret from FILE"
    )
    parser.add_argument("--cli", action="store_true", help="use the Infisical CLI's user login")


def run(args: argparse.Namespace, ui: UI) -> int:
    if not inside_enclave():
        inner = ["login"]
        if args.cli:
            inner.append("--cli")
        if args.client_id:
            inner += ["--client-id", args.client_id]
        if args.client_secret_file:
            inner += ["--client-secret-file", str(Path(args.client_secret_file).absolute())]
        return rerun_in_enclave(args, ui, inner)
    from tazpod.secrets import store as secretstore
    from tazpod.secrets.value import Secret
    from tazpod.sources.infisical import InfisicalApi

    context = load_context(ui)
    secrets = require_secrets(context)
    if args.cli:
        return _cli_login(secrets.url, ui)
    root = secretstore.vault_root()
    client_id = args.client_id or input("Infisical client id: ").strip()
    if not client_id:
        raise UsageError("the client id is empty")
    api = InfisicalApi(secrets.url)
    identity = api.login(
        secretstore.MachineIdentity(api.site, client_id, Secret(_client_secret(args)))
    )
    try:
        secretstore.save_identity(root, identity)
    except secretstore.VaultFull as err:
        vault = context.config.vault
        raise err.explained(vault.backend, vault.size_mib) from err
    if identity.expires_at is None:
        validity = "token does not expire"
    else:
        validity = f"token valid {max(int((identity.expires_at - time.time()) // 60), 0)} min"
    ui.info(
        f"logged in to {api.site} as machine identity {client_id} ({validity});"
        " the credentials are kept in the vault only"
    )
    return 0
