"""The files `tazpod init` writes. Commented, so the file explains itself."""

from __future__ import annotations

from tazpod import __version__
from tazpod.project.schema import DEFAULT_SIZE_MIB
from tazpod.project.verticals import vertical_image

CONFIG_TEMPLATE = """\
# tazpod project configuration (compatible with TazPod 0.1.3 files).
# Every key is explained in tazpod's README, section "Configuration".
version: 1

# The vertical this project was created with: base, infisical, k8s or gemini.
# tazpod builds its image locally from the Dockerfiles it ships.
vertical: {vertical}
image: "{image}"

# Unique per project, so several projects can run side by side.
container_name: "{container_name}"
# The unprivileged user you work as inside the container (no sudo).
user: "tazpod"

# Where the dev container runs: docker, podman or kubernetes.
engine: docker
# host or none (tazpod never creates bridge networks).
network: host
# Give the container every privilege. Off: tazpod adds only what the vault needs.
privileged: false
# Resource limits for the container, as `--ulimit NAME=SOFT:HARD` (some hosts need them,
# e.g. Podman without CAP_SYS_RESOURCE: nofile=20000:20000 and nproc=32768:32768).
# ulimits: [nofile=20000:20000]
# Forward the host's X11 display (DISPLAY, the X socket, XAUTHORITY) when available.
x11: false
# `tazpod ssh-config`'s entry forwards your ssh agent (otherwise only `ssh -A` does).
ssh_agent: false

features:
  # Ghost mode: secrets are visible only inside the enclave shell's private namespace.
  ghost_mode: true
  debug: false

vault:
  # ram: an age-encrypted file decrypted into RAM inside the enclave (crash-safe).
  # luks: TazPod's LUKS2 vault.img on a loop device.
  backend: ram
  # RAM (tmpfs) size for ram; image size for luks ({luks_size}M by default).
  size: {ram_size}M
  # Where the decrypted vault appears inside the enclave. Default:
  # /home/<user>/secrets in the container, ~/secrets on a host.
  # mount_point: /home/tazpod/secrets
  # luks: how long deriving the key from the passphrase takes on this machine when a
  # passphrase is set (cryptsetup --iter-time); longer is harder to guess, slower to open.
  # kdf_time_ms: 2000
  # luks: the most memory argon2id may use (MiB); less suits small machines, more is harder
  # to attack. cryptsetup never takes more than half of the RAM.
  # kdf_memory_mib: 1024
  # Auto-lock: save and close the enclave after this long without input on its terminals
  # or CPU use by its processes, and after this long open at all (90s, 30m, 8h, 1h30m;
  # 0: off). Its terminals are warned a minute before.
  # idle_lock: 30m
  # max_open: 8h
  # Directories kept inside the vault (bind-mounted over their vault copy).
  bridges:
    - ~/.infisical
    - ~/infisical-keyring
    - ~/.gemini

# Build your own image instead of the vertical's (TazPod's build section):
# build:
#   dockerfile: .tazpod/Dockerfile
#   context: .

# What a devcontainer.json describes (`tazpod init --from-devcontainer` writes these from
# it; README, "devcontainer.json projects"): the container's variables, more mounts, the
# ports it serves, and commands run in it as the user (a string runs in /bin/sh, a list
# without a shell, a mapping's named commands at the same time).
# environment: {{NODE_ENV: development}}
# mounts:
#   - {{type: volume, source: npm-cache, target: /home/tazpod/.npm}}
# forward_ports: [3000]
# hooks:
#   post_create: npm ci          # once, after `up` made the container
#   post_start: [npm, run, dev]  # after every start
"""

SECRETS_TEMPLATE = """\
# tazpod secrets configuration (TazPod format).
config:
  # Your Infisical project id (Project settings > Project ID).
  infisical_project_id: ""
  # Your Infisical site: https://app.infisical.com, https://eu.infisical.com or self-hosted.
  infisical_url: "https://app.infisical.com"
  # The Infisical environment slug and folder to read.
  environment: dev
  secret_path: /

# Each mapping writes one secret into a file inside the vault and,
# inside the enclave, points an environment variable at that file.
secrets:
  # - name: KUBECONFIG_CONTENT
  #   file: kubeconfig
  #   env: KUBECONFIG
  # - name: MY_API_KEY
  #   file: api.key
  #   env: API_KEY
"""

GITIGNORE_TEMPLATE = """\
# tazpod: never commit the vault or local AI memory
vault/
.gemini/
"""


def render_config(vertical: str, container_name: str) -> str:
    return CONFIG_TEMPLATE.format(
        vertical=vertical,
        image=vertical_image(vertical),
        container_name=container_name,
        ram_size=DEFAULT_SIZE_MIB["ram"],
        luks_size=DEFAULT_SIZE_MIB["luks"],
        version=__version__,
    )


_VERTICAL_BLOCK = """\
# The vertical this project was created with: base, infisical, k8s or gemini.
# tazpod builds its image locally from the Dockerfiles it ships.
vertical: {vertical}
image: "{image}"
"""
_DEVCONTAINER_BLOCK = """\
# Imported from {source} (`tazpod init --from-devcontainer`): the image or
# its build, the user and the keys at the end come from that file, and running the import
# again replaces them (tazpod's own keys, here and below, are kept).
image: "tazpod-base"
"""


def render_devcontainer_config(container_name: str, source: str) -> str:
    """config.yaml for a project whose container a devcontainer.json describes (``source``,
    a plain relative path); the import then sets its image and the rest."""
    text = render_config("base", container_name)
    block = _VERTICAL_BLOCK.format(vertical="base", image=vertical_image("base"))
    assert block in text
    return text.replace(block, _DEVCONTAINER_BLOCK.format(source=source))
