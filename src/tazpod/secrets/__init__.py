"""Secrets: the value type, secrets.yml mappings, the vault's store, dotenv, shell output, pull."""
