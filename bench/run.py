"""tazpod's benchmarks: every figure against its floor in the same run.

Run through ./scripts/bench (it prepares the venv and the Docker engine). Prints a
markdown table of medians and ratios and writes it, with the machine, to
docs/benchmarks.md. Needs root (the enclave) and, for the engine rows, dockerd.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import Row, alternating, command, median_ms, table

PY = sys.executable
TAZPOD = str(Path(PY).parent / "tazpod")
PASSPHRASE = "benchmark passphrase"
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}


def _project(base: Path, payload_mib: int) -> Path:
    """A project with a ram vault holding ``payload_mib`` MiB, and its passphrase file."""
    root = base / f"project-{payload_mib}"
    root.mkdir()
    subprocess.run([TAZPOD, "init", "base"], cwd=root, env=ENV, check=True, capture_output=True)
    config = root / ".tazpod" / "config.yaml"
    text = config.read_text().replace(
        "  bridges:\n    - ~/.infisical\n    - ~/infisical-keyring\n    - ~/.gemini\n",
        "  bridges: []\n",
    )
    size = max(64, payload_mib * 2 + 16)
    config.write_text(text.replace("size: 64M", f"size: {size}M"))
    subprocess.run([TAZPOD, "trust", "--yes"], cwd=root, env=ENV, check=True, capture_output=True)
    (root / ".passphrase").write_text(PASSPHRASE + "\n")
    script = f'head -c {payload_mib * 1024 * 1024} /dev/urandom > "$TAZPOD_VAULT/payload"'
    subprocess.run(
        [TAZPOD, "run", "--passphrase-file", ".passphrase", "--", "sh", "-c", script],
        cwd=root,
        env=ENV,
        check=True,
        capture_output=True,
    )
    return root


OPEN_FLOOR = textwrap.dedent(
    """
    import io, sys, tarfile, tempfile, pyrage
    vault_dir, passphrase = sys.argv[1], sys.argv[2]
    text = pyrage.passphrase.decrypt(open(vault_dir + "/identity.age", "rb").read(), passphrase)
    key = [l for l in text.decode().splitlines() if l.startswith("AGE-SECRET-KEY-")][0]
    identity = pyrage.x25519.Identity.from_str(key)
    data = pyrage.decrypt(open(vault_dir + "/vault.age", "rb").read(), [identity])
    with tempfile.TemporaryDirectory(dir="/dev/shm") as out:
        tarfile.open(fileobj=io.BytesIO(data)).extractall(out)
    """
)


def _paired(
    what: str,
    tazpod: list[str],
    floor_name: str,
    floor: list[str],
    goal: float,
    runs: int,
    **kwargs: Any,
) -> Row:
    mine, theirs, ratio = alternating(command(tazpod, **kwargs), command(floor), runs, warmup=3)
    return Row(what, mine, floor_name, theirs, goal, paired_ratio=ratio)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def cli_rows(base: Path, runs: int) -> list[Row]:
    """Through the launcher a user runs (the venv's bin/tazpod), alternating with the floor.

    As an unprivileged user, as a user runs them (as root tazpod first checks that its
    installation is root's alone, which `tazpod env` in an enclave never pays).
    """
    from tazpod.secrets import dotenv
    from tazpod.secrets.value import Secret

    floor = [*NOBODY, PY, "-c", "pass"]
    version, help_ = [*NOBODY, TAZPOD, "--version"], [*NOBODY, TAZPOD, "--help"]
    rows = [
        _paired("`tazpod --version`", version, "`python3 -c pass`", floor, 1.2, runs),
        _paired("`tazpod --help`", help_, "`python3 -c pass`", floor, 1.5, runs),
    ]
    root = base / "env-project"
    vault = base / "env-vault"
    state = base / "env-state"
    root.mkdir()
    (vault / ".tazpod").mkdir(parents=True)  # the enclave's control directory
    state.mkdir()
    mappings = "".join(f"  - {{name: S{i}, file: f{i}, env: F{i}}}\n" for i in range(5))
    values = {f"S{i}": Secret(f"value {i}") for i in range(50)}
    (vault / ".env-infisical").write_text(dotenv.render(values))  # as `tazpod pull` writes it
    subprocess.run(["chown", "-R", "65534:65534", str(root), str(vault), str(state)], check=True)
    user_env = {**ENV, "XDG_STATE_HOME": str(state), "XDG_CACHE_HOME": str(state / "cache")}

    def as_nobody(*argv: str) -> None:
        subprocess.run([*NOBODY, *argv], cwd=root, env=user_env, check=True, capture_output=True)

    as_nobody(TAZPOD, "init", "base")
    secrets_yml = f"config:\n  infisical_project_id: p\nsecrets:\n{mappings}"
    (root / "secrets.yml").write_text(secrets_yml)
    os.chown(root / "secrets.yml", 65534, 65534)
    as_nobody(TAZPOD, "trust", "--yes")
    env = {
        **user_env,
        "TAZPOD_GHOST_MODE": "true",
        "TAZPOD_VAULT": str(vault),
        "TAZPOD_PROJECT": str(root),
    }
    rows.append(
        _paired(
            "`tazpod env` (50 secrets, 5 mappings)",
            [*NOBODY, TAZPOD, "env"],
            "`python3 -c pass`",
            floor,
            1.3,
            runs,
            env=env,
        )
    )
    return rows


PROMPTS = 1000


def prompt_rows(base: Path, runs: int) -> list[Row]:
    """Prompts of the enclave's bash with the live-refresh hook, nothing changed, against
    the same bash and start-up file without the hook: the hook's cost at each prompt.

    The start-up files are the ones an unlock writes; the shell reads its empty lines
    from a pipe, one prompt (and one run of PROMPT_COMMAND) each.
    """
    from tazpod.enclave.shellstate import (
        GENERATION_ENV,
        RC_NAME,
        ensure_state_dir,
        write_shell_files,
    )
    from tazpod.secrets import generation

    vault = base / "prompt-vault"
    vault.mkdir(mode=0o700)
    write_shell_files(vault)
    generation.bump(vault)  # as the enclave's opening does
    ensure_state_dir(vault)
    rc = vault / ".tazpod" / RC_NAME
    hook_line = '[ -n "${BASH_VERSION-}" ] && . "$TAZPOD_VAULT/.tazpod/refresh.sh"\n'
    without = base / "shellrc-without-hook"
    assert hook_line in rc.read_text()
    without.write_text(rc.read_text().replace(hook_line, ""))
    fake = base / "prompt-bin" / "tazpod"  # says so if the hook ran it: nothing changed
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\n: > "$0.ran"\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}:/usr/bin:/bin",
        "HOME": str(base),
        "TERM": "dumb",
        "TAZPOD_VAULT": str(vault),
        GENERATION_ENV: generation.read(vault),
    }
    lines = b"\n" * PROMPTS + b"true\n"  # the exit status: the last command's

    def shell(rcfile: Path) -> list[str]:
        return ["bash", "--noprofile", "--rcfile", str(rcfile), "-i"]

    mine, theirs, ratio = alternating(
        command(shell(rc), input=lines, env=env),
        command(shell(without), input=lines, env=env),
        runs,
    )
    ran = fake.with_name("tazpod.ran")
    if ran.exists():
        raise RuntimeError("the prompt hook ran `tazpod env` though nothing changed")
    command(shell(rc), input=b"\n", env={**env, GENERATION_ENV: "older"})()
    if not ran.exists():  # the row measured a hook that is there and works
        raise RuntimeError("the prompt hook did not run `tazpod env` for a new generation")
    per_prompt = (mine - theirs) / PROMPTS * 1000
    return [
        Row(
            f"{PROMPTS} prompts of the enclave's bash, nothing changed",
            mine,
            "the same without the refresh hook",
            theirs,
            3.0,
            f"(the hook: {per_prompt:.0f} µs a prompt)",
            paired_ratio=ratio,
        )
    ]


def open_rows(base: Path, runs: int) -> list[Row]:
    root = _project(base, 1)
    tazpod = median_ms(
        command(
            [TAZPOD, "run", "--passphrase-file", ".passphrase", "--", "true"], cwd=root, env=ENV
        ),
        runs,
    )
    floor = median_ms(
        command([PY, "-c", OPEN_FLOOR, str(root / ".tazpod" / "vault"), PASSPHRASE]), runs
    )
    subprocess.run(
        [TAZPOD, "secrets", "set", "GRANTED", "--passphrase-file", ".passphrase"],
        cwd=root,
        env=ENV,
        input=b"bench value",
        check=True,
        capture_output=True,
    )
    run = [TAZPOD, "run", "--passphrase-file", ".passphrase"]
    granted, whole, ratio = alternating(
        command([*run, "--only", "GRANTED", "--", "true"], cwd=root, env=ENV),
        command([*run, "--", "true"], cwd=root, env=ENV),
        runs,
    )
    return [
        Row(
            "open+close: `tazpod run -- true`, 1 MiB vault",
            tazpod,
            "age: unwrap identity, decrypt, untar to tmpfs",
            floor,
            1.3,
            "(tazpod also saves on close)",
        ),
        Row(
            "`tazpod run --only GRANTED -- true` (a grant's view)",
            granted,
            "`tazpod run -- true`",
            whole,
            1.1,
            paired_ratio=ratio,
        ),
    ]


def _tree(base: Path, mib: int) -> Path:
    tree = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="tazpod-bench-"))
    for index in range(max(1, mib // 4)):
        (tree / f"file{index}").write_bytes(os.urandom(min(mib, 4) * 1024 * 1024))
    return tree


def _scale(base: Path, tree: Path, mib: int, runs: int, identity: Any) -> tuple[float, float]:
    """(save ms, open ms) of a ``mib`` MiB tree, in-process: the code the enclave runs."""
    from tazpod.vault import tarball
    from tazpod.vault.age_files import RamVault, VaultKey

    vault = RamVault(base / f"vault-{mib}")
    vault.directory.mkdir()
    key = VaultKey(identity, requires_seal=True)
    save = median_ms(lambda: vault.seal_tree(tree, key.recipient, key.seal_key, None), runs)

    def open_once() -> None:
        with tempfile.TemporaryDirectory(dir="/dev/shm") as out:
            tarball.unpack(vault.open_archive(key)[0], Path(out))

    return save, median_ms(open_once, runs)


def save_rows(base: Path, runs: int) -> tuple[list[Row], list[str]]:
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = identity.to_public()
    rows: list[Row] = []
    scaling = [
        "| vault size | save (ms) | open (ms) | save ms/MiB | open ms/MiB |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for mib in (1, 16, 64, 256):
        tree = _tree(base, mib)
        try:
            save, opened = _scale(base, tree, mib, runs if mib <= 64 else 3, identity)
            scaling.append(
                f"| {mib} MiB | {save:.0f} | {opened:.0f} | {save / mib:.1f} | {opened / mib:.1f} |"
            )
            if mib == 64:
                out = base / "floor.age"
                pipeline = f'tar -C "{tree}" -cf - . | age -r {recipient} > "{out}"'
                floor = median_ms(command(["sh", "-c", pipeline]), runs)
                rows.append(
                    Row(
                        "save: seal a 64 MiB tree (tar, encrypt, atomic write)",
                        save,
                        "`tar -c | age -r RECIPIENT`",
                        floor,
                        1.2,
                    )
                )
        finally:
            shutil.rmtree(tree)
    return rows, scaling


def sync_rows(base: Path, runs: int) -> list[Row]:
    from tests.support.infisical_server import ApiState, InfisicalServer

    from tazpod.secrets import store as secretstore
    from tazpod.secrets.mappings import read_secrets_config
    from tazpod.secrets.pull import pull
    from tazpod.secrets.value import Secret
    from tazpod.sources.http import JsonClient

    state = ApiState(identities={"id": "secret"})
    state.add_secrets("p", "dev", {f"S{i:03}": secrets.token_hex(16) for i in range(200)})
    with InfisicalServer(state) as server:
        vault = base / "sync-vault"
        vault.mkdir()
        secretstore.save_identity(
            vault, secretstore.MachineIdentity(server.url, "id", Secret("secret"))
        )
        secrets_yml = base / "secrets.yml"
        mappings = "".join(f"  - {{name: S{i:03}, file: f{i:03}}}\n" for i in range(50))
        secrets_yml.write_text(
            f"config:\n  infisical_project_id: p\n  infisical_url: {server.url}\nsecrets:\n"
            + mappings
        )
        config, _ = read_secrets_config(secrets_yml)
        requests: list[int] = []

        def tazpod() -> None:
            (vault / secretstore.AUTH_FILE).unlink()
            secretstore.save_identity(
                vault, secretstore.MachineIdentity(server.url, "id", Secret("secret"))
            )
            requests.append(pull(vault, config, secrets_yml, Path.home()).requests)

        def per_secret() -> None:
            client = JsonClient(server.url)
            token = client.request(
                "POST",
                "/api/v1/auth/universal-auth/login",
                body={"clientId": "id", "clientSecret": "secret"},
            )
            for i in range(200):
                client.request(
                    "GET",
                    f"/api/v3/secrets/raw/S{i:03}",
                    params={"workspaceId": "p", "environment": "dev", "secretPath": "/"},
                    token=token["accessToken"],
                )
            requests.append(client.requests_made)

        fast = median_ms(tazpod, runs)
        slow = median_ms(per_secret, max(3, runs // 2))
    return [
        Row(
            f"sync 200 secrets, 50 to files ({requests[0]} requests)",
            fast,
            f"one request per secret ({requests[-1]} requests)",
            slow,
            0.1,
        )
    ]


def engine_rows(base: Path, runs: int) -> list[Row]:
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        return []
    from tazpod import __version__

    image = f"tazpod-base:{__version__}"
    root = base / "engine-project"
    root.mkdir()
    root.chmod(0o755)
    subprocess.run([TAZPOD, "init", "base"], cwd=root, env=ENV, check=True, capture_output=True)
    config = root / ".tazpod" / "config.yaml"
    config.write_text(
        config.read_text() + "build:\n  args:\n    BASE_IMAGE:"
        " tazpod-bootstrap:bookworm\n    WITH_LAZYVIM: '0'\n"
    )
    subprocess.run([TAZPOD, "trust", "--yes"], cwd=root, env=ENV, check=True, capture_output=True)
    (root / ".passphrase").write_text(PASSPHRASE + "\n")
    subprocess.run(["chown", "-R", "1000:1000", str(root)], check=True)
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        if subprocess.run(
            ["docker", "image", "inspect", "tazpod-bootstrap:bookworm"], capture_output=True
        ).returncode:
            subprocess.run([TAZPOD, "image", "bootstrap"], check=True, capture_output=True)
        subprocess.run([TAZPOD, "build"], cwd=root, env=ENV, check=True, capture_output=True)
    name = next(
        line.split(":", 1)[1].strip().strip('"')
        for line in config.read_text().splitlines()
        if line.startswith("container_name:")
    )
    rows = []
    up = command([TAZPOD, "up"], cwd=root, env=ENV)
    down = command([TAZPOD, "down"], cwd=root, env=ENV)

    def docker_run() -> None:
        command(
            [
                "docker",
                "run",
                "-d",
                "--name",
                "bench-floor",
                "--init",
                "--network",
                "host",
                image,
                "sleep",
                "infinity",
            ]
        )()

    def no_floor() -> None:
        subprocess.run(["docker", "rm", "-f", "bench-floor"], capture_output=True)

    mine, theirs, ratio = alternating(up, docker_run, runs, warmup=1, setups=(down, no_floor))
    no_floor()
    rows.append(
        Row(
            "`tazpod up`, image present (container absent)",
            mine,
            "`docker run -d` of the same image",
            theirs,
            1.5,
            paired_ratio=ratio,
        )
    )
    up()
    rows.append(
        _paired(
            "`tazpod exec -- true`",
            [TAZPOD, "exec", "--", "true"],
            "`docker exec -u tazpod -w /workspace C true`",
            ["docker", "exec", "-u", "tazpod", "-w", "/workspace", name, "true"],
            1.3,
            runs,
            cwd=root,
            env=ENV,
        )
    )
    inside = median_ms(
        command(
            [TAZPOD, "run", "--passphrase-file", ".passphrase", "--", "true"], cwd=root, env=ENV
        ),
        max(3, runs // 2),
    )
    host_root = _project(base, 0)
    host = median_ms(
        command(
            [TAZPOD, "run", "--passphrase-file", ".passphrase", "--", "true"],
            cwd=host_root,
            env=ENV,
        ),
        max(3, runs // 2),
    )
    rows.append(
        Row(
            "unlock-to-first-command in the container",
            inside,
            "the same on the host (no container)",
            host,
            None,
        )
    )
    down()
    return rows


def machine() -> str:
    memory = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    return (
        f"{os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB RAM, Linux"
        f" {platform.release()}, Python {platform.python_version()},"
        f" {datetime.date.today().isoformat()}"
    )


GROUPS = ("cli", "prompt", "open", "save", "sync", "engine")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11, help="timed runs per figure")
    parser.add_argument("--out", type=Path, help="write the report (markdown) here")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=set(GROUPS),
        metavar="GROUPS",
        help=f"comma-separated groups to measure (default: all of {','.join(GROUPS)})",
    )
    args = parser.parse_args()
    unknown = args.only - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    if os.geteuid() != 0:
        print("bench: needs root (the enclave)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tazpod-bench-", dir="/var/tmp") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        rows: list[Row] = []
        scaling: list[str] = []
        engine: list[Row] = []
        if "cli" in args.only:
            print("measuring CLI start ...", file=sys.stderr)
            rows += cli_rows(base, args.runs * 2)
        if "prompt" in args.only:
            print("measuring the prompt hook ...", file=sys.stderr)
            rows += prompt_rows(base, args.runs)
        if "open" in args.only:
            print("measuring open ...", file=sys.stderr)
            rows += open_rows(base, args.runs)
        if "save" in args.only:
            print("measuring save and scaling ...", file=sys.stderr)
            save, scaling = save_rows(base, args.runs)
            rows += save
        if "sync" in args.only:
            print("measuring sync ...", file=sys.stderr)
            rows += sync_rows(base, args.runs)
        if "engine" in args.only:
            print("measuring engine overhead ...", file=sys.stderr)
            engine = engine_rows(base, args.runs)
            rows += engine
    report = "\n".join(
        [
            f"Machine: {machine()}. Medians of {args.runs} runs after a warm-up"
            " (CLI start: twice as many)."
            + (
                f" Groups measured: {', '.join(g for g in GROUPS if g in args.only)}."
                if args.only != set(GROUPS)
                else ""
            ),
            "",
            table(rows),
            *(
                [
                    "",
                    "Open and save cost by vault size (in-process, the code the enclave runs):",
                    "",
                ]
                if scaling
                else []
            ),
            *scaling,
            *(
                ["", "Engine rows skipped: no Docker engine reachable."]
                if "engine" in args.only and not engine
                else []
            ),
        ]
    )
    print(report)
    if args.out:
        text = args.out.read_text() if args.out.exists() else ""
        marker = "<!-- results -->"
        head = text.split(marker)[0] if marker in text else text
        args.out.write_text(head.rstrip() + f"\n\n{marker}\n\n" + report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
