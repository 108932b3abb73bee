"""The config cache rebuilds every field of the schema, whatever fields it gains."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tazpod.project import cache, read
from tazpod.project.config import load_project_config
from tazpod.project.schema import (
    SECTIONS,
    BuildConfig,
    DevcontainerSource,
    Features,
    HookCommand,
    Hooks,
    KubernetesConfig,
    Loaded,
    LocalFeature,
    MountConfig,
    ProjectConfig,
    VaultConfig,
)

EVERYTHING_SET = ProjectConfig(
    image="registry.example/dev:7",
    container_name="tazpod-every-1234567",
    version="1.0",
    vertical="gemini",
    user="dev",
    engine="kubernetes",
    network="none",
    privileged=True,
    ulimits=("nofile=1:2", "nproc=3"),
    x11=True,
    ssh_agent=True,
    features=Features(ghost_mode=False, debug=True),
    vault=VaultConfig(
        backend="luks",
        size_mib=128,
        mount_point="~/vault",
        bridges=("~/.aws",),
        kdf_time_ms=500,
        kdf_memory_mib=64,
        idle_lock=1800,
        max_open=8 * 3600,
    ),
    kubernetes=KubernetesConfig(
        context="lab",
        namespace="dev",
        storage_class="fast",
        size="20Gi",
        image_pull_policy="Always",
        resources={"requests": {"cpu": "500m"}, "limits": {"memory": "4Gi"}},
        node_selector={"disk": "ssd"},
        tolerations=({"key": "gpu", "operator": "Exists", "toleration_seconds": 30},),
        service_account="builder",
        seccomp_profile="tazpod.json",
    ),
    build=BuildConfig(
        dockerfile=".tazpod/Dockerfile", context="ctx", args=(("A", "1"),), target="dev"
    ),
    environment={"APP_ENV": "dev"},
    mounts=(MountConfig("/home/dev/.cache", "cache", "volume", True),),
    forward_ports=(3000, 8080),
    hooks=Hooks(
        on_create=(HookCommand("", "make setup"),),
        update_content=(HookCommand("", ("git", "pull")),),
        post_create=(HookCommand("web", "npm ci"), HookCommand("db", ("make", "db"))),
        post_start=(HookCommand("", "true"),),
        post_attach=(HookCommand("", ("echo", "hi")),),
    ),
    memory="4g",
    cpus="1.5",
    shm_size="1g",
    hostname="devbox",
    devcontainer=DevcontainerSource(".devcontainer/devcontainer.json", "0" * 64),
    devcontainer_features=(LocalFeature(".devcontainer/feat", (("greeting", "hi"),)),),
)


def _defaults_left(value: Any, where: str) -> list[str]:
    """Every field of every section in ``value`` that still holds its default."""
    left = []
    for field in dataclasses.fields(value):
        current = getattr(value, field.name)
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING  # required: any value will do
        if current == default:
            left.append(f"{where}{field.name}")
        if type(current) in SECTIONS:
            left += _defaults_left(current, f"{where}{field.name}.")
    return left


def test_the_sample_sets_every_field_of_every_section() -> None:
    # A field added to the schema but not here fails this test: add it above.
    assert _defaults_left(EVERYTHING_SET, "") == []
    assert set(SECTIONS) <= _sections_in(EVERYTHING_SET)


def _sections_in(value: Any) -> set[type]:
    """The dataclasses ``value`` is made of, in fields and in tuples of them."""
    if isinstance(value, tuple):
        return set().union(*(_sections_in(item) for item in value))
    if not dataclasses.is_dataclass(value):
        return set()
    found = {type(value)}
    for field in dataclasses.fields(value):
        found |= _sections_in(getattr(value, field.name))
    return found


def test_every_field_round_trips_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# the parse is replaced below\n")
    monkeypatch.setattr(read, "read_project_config", lambda _p: Loaded(EVERYTHING_SET, ("w",)))
    first = load_project_config(path)  # parsed (by the stand-in) and cached

    def no_parse(_path: Path) -> object:
        raise AssertionError("parsed again")

    monkeypatch.setattr(read, "read_project_config", no_parse)
    again = load_project_config(path)
    assert again == first
    assert again.config == EVERYTHING_SET and again.warnings == ("w",)
    assert type(again.config.ulimits) is tuple and type(again.config.kubernetes.resources) is dict


def test_a_cache_of_another_schema_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("x: 1\n")
    key = cache.cache_key(path, "1.2.3")
    where = tmp_path / "cache.json"
    cache.write_cached(where, key, Loaded(EVERYTHING_SET))
    assert cache.read_cached(where, key) == Loaded(EVERYTHING_SET)
    other_schema = [*key[:-1], key[-1].replace("VaultConfig(", "VaultConfig(extra:int,")]
    assert cache.read_cached(where, other_schema) is None


def test_a_cache_file_can_rebuild_only_the_schema() -> None:
    with pytest.raises(KeyError):
        cache.decode(["section", "Path", {}])
    with pytest.raises(TypeError):
        cache.encode({"set": {1, 2}})
