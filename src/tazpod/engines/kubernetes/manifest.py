"""The dev pod's and its workspace claim's manifests, from the container spec.

Labels carry what selectors need (managed, version); the project's path, which
is not a valid label value, is an annotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tazpod.engines.base import LABEL_PROJECT, LABEL_VERSION, ContainerSpec
from tazpod.project.schema import KubernetesConfig

CONTAINER = "dev"


def workspace_claim(name: str) -> str:
    return f"{name}-workspace"


def claim_manifest(spec: ContainerSpec, settings: KubernetesConfig) -> dict[str, Any]:
    """The PersistentVolumeClaim that holds /workspace (the project and its vault)."""
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": workspace_claim(spec.name),
            "labels": _labels(spec),
            "annotations": _notes(spec),
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": settings.size}},
        },
    }
    if settings.storage_class:
        body["spec"]["storageClassName"] = settings.storage_class
    return body


ANCHOR_VOLUME = {"medium": "Memory", "sizeLimit": "1Mi"}


def pod_manifest(spec: ContainerSpec, settings: KubernetesConfig) -> dict[str, Any]:
    """The Pod: least privilege for the vault backend; privileged only on opt-in."""
    security: dict[str, Any] = {"runAsUser": 0, "allowPrivilegeEscalation": False}
    if spec.privileged:
        security = {"privileged": True}
    else:
        security["capabilities"] = {"add": list(spec.cap_add), "drop": list(spec.cap_drop)}
        # A seccomp filter always: tazpod's own profile where the node has it, else the
        # runtime's default (which allows unshare and mount only with CAP_SYS_ADMIN).
        security["seccompProfile"] = (
            {"type": "Localhost", "localhostProfile": settings.seccomp_profile}
            if settings.seccomp_profile
            else {"type": "RuntimeDefault"}
        )
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(spec.command),
        "workingDir": spec.workdir,
        "env": [{"name": k, "value": v} for k, v in spec.environment.items()],
        "securityContext": security,
        "volumeMounts": [
            {"name": "workspace", "mountPath": spec.workdir},
            *(
                {"name": f"anchor-{index}", "mountPath": path, "readOnly": True}
                for index, path in enumerate(spec.anchors)
            ),
        ],
    }
    if settings.resources:
        container["resources"] = settings.resources
    notes = _notes(spec)
    # mount(2) in the enclave: runtimes' default AppArmor profile forbids it
    notes[f"container.apparmor.security.beta.kubernetes.io/{CONTAINER}"] = "unconfined"
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": spec.name, "labels": _labels(spec), "annotations": notes},
        "spec": {
            "shareProcessNamespace": True,  # pause is PID 1: the init that reaps
            "terminationGracePeriodSeconds": 5,
            "automountServiceAccountToken": False,
            "containers": [container],
            "volumes": [
                {
                    "name": "workspace",
                    "persistentVolumeClaim": {"claimName": workspace_claim(spec.name)},
                },
                *(  # the anchors (engines.base.ContainerSpec): empty, read-only tmpfs
                    {"name": f"anchor-{index}", "emptyDir": dict(ANCHOR_VOLUME)}
                    for index in range(len(spec.anchors))
                ),
            ],
        },
    }
    if settings.node_selector:
        pod["spec"]["nodeSelector"] = settings.node_selector
    if settings.tolerations:
        pod["spec"]["tolerations"] = [_camel(t) for t in settings.tolerations]
    if settings.service_account:
        pod["spec"]["serviceAccountName"] = settings.service_account
    return pod


def _labels(spec: ContainerSpec) -> dict[str, str]:
    return {k: v for k, v in spec.labels.items() if k != LABEL_PROJECT} | {
        LABEL_VERSION: spec.labels.get(LABEL_VERSION, "")
    }


def _notes(spec: ContainerSpec) -> dict[str, str]:
    return {LABEL_PROJECT: spec.labels.get(LABEL_PROJECT, "")}


def _camel(entry: Mapping[str, Any]) -> dict[str, Any]:
    names = {"toleration_seconds": "tolerationSeconds"}
    return {names.get(k, k): v for k, v in entry.items()}
