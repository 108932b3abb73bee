"""engine: kubernetes without a cluster: config, the Pod it asks for, sessions, diagnoses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tazpod.engines.devcontainer import spec_for
from tazpod.engines.kubernetes.diagnose import diagnose, pod_state
from tazpod.engines.kubernetes.engine import as_user
from tazpod.engines.kubernetes.manifest import pod_manifest
from tazpod.errors import ConfigError
from tazpod.project.config import KubernetesConfig, read_project_config
from tazpod.project.locate import Project, init_project

KUBE = """engine: kubernetes
kubernetes:
  context: lab
  namespace: dev-team
  storage_class: fast-ssd
  size: 20Gi
  image_pull_policy: Always
  resources:
    requests: {cpu: 500m, memory: 1Gi}
    limits: {memory: 4Gi}
  node_selector: {kubernetes.io/arch: amd64}
  tolerations:
    - {key: dedicated, operator: Equal, value: dev, effect: NoSchedule}
  service_account: tazpod-dev
"""


def _project(tmp_path: Path, extra: str) -> tuple[Project, Any]:
    init_project(tmp_path, "base", force=False)
    project = Project(tmp_path)
    text = project.config_path.read_text().replace("engine: docker\n", "")
    project.config_path.write_text(text + extra)
    return project, read_project_config(project.config_path).config


def test_kubernetes_section_is_read(tmp_path: Path) -> None:
    _unused, config = _project(tmp_path, KUBE)
    k8s = config.kubernetes
    assert (config.engine, k8s.context, k8s.namespace, k8s.storage_class) == (
        "kubernetes",
        "lab",
        "dev-team",
        "fast-ssd",
    )
    assert k8s.size == "20Gi" and k8s.image_pull_policy == "Always"
    assert k8s.resources == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "4Gi"},
    }
    assert k8s.node_selector == {"kubernetes.io/arch": "amd64"}
    assert k8s.tolerations == (
        {"key": "dedicated", "operator": "Equal", "value": "dev", "effect": "NoSchedule"},
    )
    assert k8s.service_account == "tazpod-dev"


def test_kubernetes_defaults(tmp_path: Path) -> None:
    _p, config = _project(tmp_path, "engine: kubernetes\n")
    assert config.kubernetes == KubernetesConfig()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("kubernetes:\n  size: lots\n", "kubernetes.size: 'lots' is not a Kubernetes quantity"),
        ("kubernetes:\n  namespace: Dev_Team\n", "kubernetes.namespace: 'Dev_Team' is not a valid"),
        ("kubernetes:\n  image_pull_policy: Sometimes\n", "kubernetes.image_pull_policy"),
        ("kubernetes:\n  resources: {requests: {gpu: 1}}\n", "gpu: is not a resource"),
        ("kubernetes:\n  tolerations: [3]\n", "must be a mapping"),
        ("kubernetes:\n  seccomp_profile: ../x.json\n", "is not a relative file name"),
        ("kubernetes:\n  seccomp_profile: /etc/x.json\n", "is not a relative file name"),
    ],
)
def test_kubernetes_bad_input_names_line_and_key(tmp_path: Path, extra: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _project(tmp_path, extra)
    assert fragment in caught.value.message
    assert "config.yaml:" in caught.value.message


def test_pod_is_least_privilege_with_its_volume(tmp_path: Path) -> None:
    project, config = _project(tmp_path, KUBE)
    pod = pod_manifest(spec_for(project, config, environ={}), config.kubernetes)
    spec = pod["spec"]
    container = spec["containers"][0]
    assert container["securityContext"] == {
        "runAsUser": 0,
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["SYS_ADMIN"], "drop": ["NET_RAW", "MKNOD"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["command"] == ["sleep", "infinity"] and spec["shareProcessNamespace"]
    home = "/home/tazpod"
    anchored = [
        f"{home}/secrets",
        f"{home}/.infisical",
        f"{home}/infisical-keyring",
        f"{home}/.gemini",
    ]
    assert container["volumeMounts"] == [
        {"name": "workspace", "mountPath": "/workspace"},
        *(
            {"name": f"anchor-{i}", "mountPath": path, "readOnly": True}
            for i, path in enumerate(anchored)
        ),
    ]  # the vault's mount point and bridges are held: a mount point cannot be renamed
    assert [v["emptyDir"]["medium"] for v in spec["volumes"][1:]] == ["Memory"] * len(anchored)
    claim = spec["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == f"{config.container_name}-workspace"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"]["limits"] == {"memory": "4Gi"}
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert spec["tolerations"][0]["effect"] == "NoSchedule"
    assert spec["serviceAccountName"] == "tazpod-dev"
    assert spec["automountServiceAccountToken"] is False
    assert pod["metadata"]["labels"]["dev.tazpod.managed"] == "true"
    assert "dev.tazpod.project" not in pod["metadata"]["labels"]  # a path is no label value
    assert pod["metadata"]["annotations"]["dev.tazpod.project"] == str(tmp_path)


def test_privileged_only_on_opt_in_and_luks_needs_it(tmp_path: Path) -> None:
    project, config = _project(tmp_path, KUBE)
    text = project.config_path.read_text().replace("backend: ram", "backend: luks")
    project.config_path.write_text(text)
    config = read_project_config(project.config_path).config
    with pytest.raises(ConfigError) as caught:
        spec_for(project, config, environ={})
    assert "needs privileged: true" in caught.value.message
    project.config_path.write_text(text.replace("privileged: false", "privileged: true"))
    config = read_project_config(project.config_path).config
    pod = pod_manifest(spec_for(project, config, environ={}), config.kubernetes)
    assert pod["spec"]["containers"][0]["securityContext"] == {"privileged": True}


def test_sessions_drop_to_the_user_with_setpriv() -> None:
    assert as_user(["id"], "0", None) == ["id"]
    argv = as_user(["make", "test"], "tazpod", "/workspace")
    assert argv[:5] == ["setpriv", "--reuid=tazpod", "--regid=tazpod", "--init-groups", "--"]
    assert argv[-6:] == ["sh", "-c", 'cd "$0" && exec "$@"', "/workspace", "make", "test"]


def _pod(phase: str = "Pending", waiting: str | None = None, scheduled: Any = None) -> Any:
    statuses = []
    if waiting is not None:
        state = SimpleNamespace(waiting=SimpleNamespace(reason=waiting, message="detail"))
        statuses.append(SimpleNamespace(state=state, image="img:1", ready=False))
    conditions = [scheduled] if scheduled else []
    return SimpleNamespace(
        metadata=SimpleNamespace(name="p", deletion_timestamp=None),
        status=SimpleNamespace(
            phase=phase, container_statuses=statuses, conditions=conditions, message=None
        ),
    )


def test_diagnoses() -> None:
    problem, status = diagnose(_pod(waiting="ImagePullBackOff"))
    assert problem is not None and "cannot pull image img:1" in problem
    unschedulable = SimpleNamespace(
        type="PodScheduled", status="False", reason="Unschedulable", message="0/1 nodes: cpu"
    )
    problem, status = diagnose(_pod(scheduled=unschedulable))
    assert problem == "pod p cannot be scheduled: 0/1 nodes: cpu"
    unbound = SimpleNamespace(
        type="PodScheduled",
        status="False",
        reason="Unschedulable",
        message="pod has unbound immediate PersistentVolumeClaims",
    )
    problem, status = diagnose(_pod(scheduled=unbound))
    assert problem is None and status.startswith("waiting for the workspace volume")
    problem, status = diagnose(_pod(waiting="ContainerCreating"))
    assert problem is None and status == "container ContainerCreating"
    assert pod_state(_pod()) == "pending"


def test_issue21_with_tazpods_profile_on_the_node_the_pod_has_no_sys_admin(
    tmp_path: Path,
) -> None:
    project, config = _project(tmp_path, KUBE + "  seccomp_profile: tazpod/enclave.json\n")
    pod = pod_manifest(spec_for(project, config, environ={}), config.kubernetes)
    security = pod["spec"]["containers"][0]["securityContext"]
    assert security["capabilities"] == {"add": [], "drop": ["NET_RAW", "MKNOD"]}
    assert security["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": "tazpod/enclave.json",
    }
    assert security["allowPrivilegeEscalation"] is False


def test_issue21_a_crash_loop_shows_what_the_container_said() -> None:
    ns = SimpleNamespace
    ended = ns(exit_code=127, reason="Error", message="sleep: not found\n")
    status = ns(
        state=ns(waiting=ns(reason="CrashLoopBackOff", message="back-off 10s restarting")),
        last_state=ns(terminated=ended),
        image="img",
    )
    pod = ns(metadata=ns(name="p"), status=ns(container_statuses=[status], conditions=[]))
    problem, reason = diagnose(pod)
    assert reason == "CrashLoopBackOff"
    assert problem == (
        "pod p: CrashLoopBackOff: back-off 10s restarting; its last run exited 127 (Error):"
        " sleep: not found"
    )
