"""`secrets.yml`: where secrets come from and where each one lands in the vault.

TazPod's format loads unchanged::

    config:
      infisical_project_id: "..."
      infisical_url: "https://eu.infisical.com/api"
    secrets:
      - {name: KUBECONFIG_CONTENT, file: kubeconfig, env: KUBECONFIG}

tazpod adds `environment` (TazPod hard-coded `dev`) and `secret_path`.
File names are plain names inside the vault: no paths, no `..`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tazpod.errors import ConfigError
from tazpod.project.yamldoc import MapReader, parse_yaml, type_name
from tazpod.secrets.mapping_table import check_file_name
from tazpod.secrets.reserved import is_identifier, is_reserved

DEFAULT_URL = "https://app.infisical.com"
_SLUG_RE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class SecretMapping:
    name: str
    file: str
    env: str | None
    line: int | None = None


@dataclass(frozen=True)
class SecretsConfig:
    project_id: str = ""
    url: str = DEFAULT_URL
    environment: str = "dev"
    secret_path: str = "/"  # noqa: S105 (a folder path, not a password)
    mappings: tuple[SecretMapping, ...] = ()
    # name -> delivery mode (tazpod.secrets.delivery; "*": the default for unnamed secrets)
    delivery: tuple[tuple[str, str], ...] = ()
    profiles: tuple[tuple[str, tuple[str, ...]], ...] = ()  # grant sets for --profile

    def approval_settings(self) -> dict[str, str]:
        """What `tazpod trust` approves of it (tazpod.project.trust), flattened: keys start
        with `secrets.yml:`; each mapping is one setting, keyed by the vault file it
        writes (file names are unique, secret names need not be)."""
        import json

        prefix = "secrets.yml:"
        flat = {
            f"{prefix}config.infisical_project_id": json.dumps(self.project_id),
            f"{prefix}config.infisical_url": json.dumps(self.url),
            f"{prefix}config.environment": json.dumps(self.environment),
            f"{prefix}config.secret_path": json.dumps(self.secret_path),
        }
        for mapping in self.mappings:
            value = {"name": mapping.name, "env": mapping.env}
            flat[f"{prefix}secrets[file={mapping.file}]"] = json.dumps(value, sort_keys=True)
        for name, mode in self.delivery:
            flat[f"{prefix}delivery.{name}"] = json.dumps(mode)
        for name, names in self.profiles:
            flat[f"{prefix}profiles.{name}"] = json.dumps(list(names))
        return flat


def check_env_name(name: str) -> str:
    if not is_identifier(name):
        raise ValueError(
            f"{name!r} is not a valid shell variable name (letters, digits and _, not starting"
            " with a digit)"
        )
    if is_reserved(name):
        raise ValueError(
            f"{name!r} is reserved: a secret in it would change how programs start"
            " (see tazpod.secrets.reserved); pick another variable name"
        )
    return name


def _url(value: Any) -> str:
    text = str(value).strip()
    if not re.match(r"^https?://[^\s/]+", text):
        raise ValueError(f"{text!r} is not an http(s) URL")
    host = re.sub(r"^https?://([^/:\s]+|\[[^\]]+\]).*$", r"\1", text)
    if text.startswith("http://") and host not in ("localhost", "127.0.0.1", "[::1]"):
        raise ValueError(f"{text!r} is plain http: the machine identity would cross in clear")
    return text


def _slug(value: Any) -> str:
    text = str(value)
    if not _SLUG_RE.match(text):
        raise ValueError(f"{text!r} is not an environment slug (letters, digits, - and _)")
    return text


def _secret_path(value: Any) -> str:
    text = str(value)
    if not text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"{text!r} must be an absolute folder path such as / or /app")
    return text


def _mapping(top: MapReader, item: Any, line: int | None) -> SecretMapping:
    where = top.where("secrets", line)
    if not isinstance(item, dict):
        raise ConfigError(
            f"{where}: each entry must be a mapping with name, file and env, not {type_name(item)}"
        )
    entry = MapReader(item, top.path, "secrets[].", line, top.warnings)
    for required in ("name", "file"):
        if not entry.has(required):
            raise ConfigError(f"{where}: entry is missing {required}")
    name = entry.string("name", "")
    if not name.strip():
        raise entry.error("name", "is empty")
    if not name.isprintable():
        raise entry.error(
            "name", f"{name!r} contains control or formatting characters (no secret's name does)"
        )
    file = entry.converted("file", "", lambda v: check_file_name(str(v)))
    env = entry.converted("env", None, lambda v: check_env_name(str(v)))
    entry.finish()
    return SecretMapping(name, file, env, entry.line_of("name"))


def _delivery(section: MapReader) -> tuple[tuple[str, str], ...]:
    from tazpod.secrets.delivery import DEFAULT_KEY, check_mode

    modes = []
    for key in list(section.data):
        name = str(key)
        if name != DEFAULT_KEY and not is_identifier(name):
            raise section.error(
                name,
                "is not a secret's variable name (letters, digits and _)",
                hint=f'name a secret, or write "{DEFAULT_KEY}" for the default of the others',
            )
        modes.append((name, section.converted(name, "", check_mode)))
    section.finish()
    return tuple(sorted(modes))


def _profiles(section: MapReader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from tazpod.secrets.grants import check_grant_name

    profiles = []
    for key in list(section.data):
        name = str(key)
        if not _SLUG_RE.match(name):
            raise section.error(name, "is not a profile name (letters, digits, - and _)")
        names: list[str] = []
        for _index, item, line in section.sequence(name):
            if not isinstance(item, str) or not item:
                raise ConfigError(
                    f"{section.where(name, line)}: each entry must be a secret's name, a mapped"
                    f" file or a bridge, not {type_name(item)}"
                )
            try:
                names.append(check_grant_name(item))
            except ValueError as err:
                raise ConfigError(f"{section.where(name, line)}: {err}") from err
        if not names:
            raise section.error(name, "is empty", hint="list what the profile grants")
        profiles.append((name, tuple(names)))
    section.finish()
    return tuple(sorted(profiles))


def read_secrets_config(path: Path) -> tuple[SecretsConfig, tuple[str, ...]]:
    top = MapReader(parse_yaml(path), path)
    source = top.mapping("config")
    project_id = source.string("infisical_project_id", "")
    url = source.converted("infisical_url", DEFAULT_URL, _url)
    environment = source.converted("environment", "dev", _slug)
    secret_path = source.converted("secret_path", "/", _secret_path)
    source.finish()
    mappings: list[SecretMapping] = []
    files: dict[str, int | None] = {}
    envs: dict[str, int | None] = {}
    for _index, item, line in top.sequence("secrets"):
        mapping = _mapping(top, item, line)
        if mapping.file in files:
            raise ConfigError(
                f"{top.where('secrets', line)}: file {mapping.file!r} is already used at line"
                f" {files[mapping.file]}",
                hint="each secret needs its own file name",
            )
        if mapping.env is not None and mapping.env in envs:
            raise ConfigError(
                f"{top.where('secrets', line)}: env {mapping.env!r} is already used at line"
                f" {envs[mapping.env]}",
                hint="each variable can point at one file only",
            )
        files[mapping.file] = line
        if mapping.env is not None:
            envs[mapping.env] = line
        mappings.append(mapping)
    delivery = _delivery(top.mapping("delivery"))
    profiles = _profiles(top.mapping("profiles"))
    top.finish()
    config = SecretsConfig(
        project_id, url, environment, secret_path, tuple(mappings), delivery, profiles
    )
    return config, tuple(top.warnings)


def load_secrets_config(path: Path) -> tuple[SecretsConfig, tuple[str, ...]]:
    """read_secrets_config through the per-user parse cache (as config.yaml's)."""
    from tazpod import __version__
    from tazpod.project import cache

    sections = (SecretsConfig, SecretMapping)
    return cache.parse_cached(path, "secrets", sections, __version__, read_secrets_config)
