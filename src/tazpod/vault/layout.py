"""Where the vault's files live in .tazpod/vault: their names, shared by the backends."""

from __future__ import annotations

VAULT_FILE = "vault.age"
IDENTITY_FILE = "identity.age"
PREVIOUS_SUFFIX = ".1"
LUKS_FILE = "vault.img"
RESCUE_PREFIX = "tazpod-rescue-"  # a failed save's sealed copy: tazpod-rescue-<when>-<x>.age
RESCUE_SUFFIX = ".age"
