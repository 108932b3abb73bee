"""Where the vault's files live in .tazpod/vault: their names, shared by the backends."""

from __future__ import annotations

VAULT_FILE = "vault.age"
IDENTITY_FILE = "identity.age"
PREVIOUS_SUFFIX = ".1"
LUKS_FILE = "vault.img"
