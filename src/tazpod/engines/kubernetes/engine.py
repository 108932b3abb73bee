"""Kubernetes: the dev pod and its workspace volume, through the official Python client.

One Pod per project (the container name from config.yaml) running the
project's image with `sleep infinity` (the pod's shared process namespace
makes the pause container its init, so stop is instant and orphans are
reaped), and one PersistentVolumeClaim, `<name>-workspace`, mounted at
/workspace, where the project and its (encrypted) vault live. `down` deletes
the pod and keeps the claim unless asked to purge it.

Labels carry what selectors need (managed, version); the project's path, which
is not a valid label value, is an annotation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tazpod.engines.base import (
    LABEL_MANAGED,
    LABEL_PROJECT,
    LABEL_VERSION,
    ContainerInfo,
    ContainerSpec,
    Progress,
)
from tazpod.errors import EngineError
from tazpod.project.config import KubernetesConfig

CONTAINER = "dev"
WAIT_SECONDS = 300
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
RBAC_NEEDED = (
    "pods: get, list, create, delete; pods/exec: create; persistentvolumeclaims: get, create,"
    " delete (in the project's namespace)"
)


def _client() -> Any:
    try:
        import kubernetes
    except ImportError as err:
        raise EngineError(
            "engine: kubernetes needs the official Kubernetes client",
            hint="pip install 'tazpod[kubernetes]' (or: pip install kubernetes)",
        ) from err
    return kubernetes


def workspace_claim(name: str) -> str:
    return f"{name}-workspace"


class KubernetesEngine:
    name = "kubernetes"

    def __init__(self, settings: KubernetesConfig) -> None:
        k8s = _client()
        self.k8s = k8s
        self.settings = settings
        try:
            contexts, current = k8s.config.list_kube_config_contexts()
            chosen = settings.context or (current or {}).get("name")
            self.api_client = k8s.config.new_client_from_config(context=chosen)
        except (k8s.config.ConfigException, OSError, TypeError) as err:
            which = f" context {settings.context!r}" if settings.context else ""
            raise EngineError(
                f"cannot load a kubeconfig{which}: {err}",
                hint="set KUBECONFIG or ~/.kube/config, and kubernetes.context in config.yaml",
            ) from err
        known = {c["name"]: c for c in contexts or []}
        context_ns = known.get(chosen, {}).get("context", {}).get("namespace")
        self.namespace = settings.namespace or context_ns or "default"
        self.core = k8s.client.CoreV1Api(self.api_client)

    # -- errors -----------------------------------------------------------------------------
    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except self.k8s.client.ApiException as err:
            raise self.explain(what, err) from err
        except (OSError, self.k8s.config.ConfigException) as err:
            raise EngineError(
                f"cannot reach the Kubernetes API to {what}: {err}",
                hint="check the cluster and kubernetes.context in .tazpod/config.yaml",
            ) from err

    def explain(self, what: str, err: Any) -> EngineError:
        try:
            message = json.loads(err.body or "{}").get("message") or err.reason
        except ValueError:
            message = err.reason
        if err.status == 403:
            return EngineError(
                f"Kubernetes refused to {what}: {message}",
                hint=f"the account needs, in namespace {self.namespace}: {RBAC_NEEDED}",
            )
        if err.status == 401:
            return EngineError(
                f"Kubernetes did not accept the credentials to {what}: {message}",
                hint="log in again, or fix the user in the kubeconfig context",
            )
        return EngineError(f"cannot {what}: {message} (HTTP {err.status})")

    # -- images: the cluster pulls; tazpod builds only for local engines ------------------------
    def image_exists(self, image: str) -> bool:
        return True  # only the nodes know; a pull failure is reported while waiting

    def pull(self, image: str, progress: Progress) -> None:
        return None

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tag: str,
        args: Mapping[str, str],
        progress: Progress,
    ) -> None:
        raise EngineError(
            "engine: kubernetes runs images from a registry the cluster can pull from",
            hint="build with engine: docker (`tazpod build`), push the image, and set image:",
        )

    def import_image(self, rootfs_tar: Path, tag: str) -> None:
        self.build(rootfs_tar, rootfs_tar, tag, {}, lambda _m: None)

    # -- the pod ------------------------------------------------------------------------------
    def _info(self, pod: Any) -> ContainerInfo:
        labels = dict(pod.metadata.labels or {})
        labels.update(pod.metadata.annotations or {})
        return ContainerInfo(
            pod.metadata.name, pod.metadata.uid, _state(pod), pod.spec.containers[0].image, labels
        )

    def find(self, name: str) -> ContainerInfo | None:
        try:
            pod = self.core.read_namespaced_pod(name, self.namespace)
        except self.k8s.client.ApiException as err:
            if err.status == 404:
                return None
            raise self.explain(f"read pod {name}", err) from err
        except OSError as err:
            raise EngineError(f"cannot reach the Kubernetes API: {err}") from err
        return self._info(pod)

    def list_managed(self) -> list[ContainerInfo]:
        pods = self._call(
            "list pods",
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=f"{LABEL_MANAGED}=true",
        )
        return [self._info(pod) for pod in pods.items]

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        self._ensure_claim(spec)
        pod = self._call(
            f"create pod {spec.name}",
            self.core.create_namespaced_pod,
            self.namespace,
            pod_manifest(spec, self.settings),
        )
        return self._info(pod)

    def _ensure_claim(self, spec: ContainerSpec) -> None:
        claim = workspace_claim(spec.name)
        try:
            self.core.read_namespaced_persistent_volume_claim(claim, self.namespace)
            return
        except self.k8s.client.ApiException as err:
            if err.status != 404:
                raise self.explain(f"read persistentvolumeclaim {claim}", err) from err
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "labels": _labels(spec), "annotations": _notes(spec)},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": self.settings.size}},
            },
        }
        if self.settings.storage_class:
            body["spec"]["storageClassName"] = self.settings.storage_class
        self._call(
            f"create persistentvolumeclaim {claim}",
            self.core.create_namespaced_persistent_volume_claim,
            self.namespace,
            body,
        )

    def start(self, name: str, progress: Progress = lambda _m: None) -> None:
        """Wait until the pod runs; explain why when it cannot."""
        deadline = time.monotonic() + WAIT_SECONDS
        said = ""
        while time.monotonic() < deadline:
            pod = self._call(
                f"read pod {name}", self.core.read_namespaced_pod, name, self.namespace
            )
            if _state(pod) == "running":
                return
            problem, status = _diagnose(pod)
            if problem is not None:
                raise EngineError(problem, hint=_hint(status, pod.spec.containers[0].image))
            if status != said:
                progress(f"pod {name}: {status}")
                said = status
            if status.startswith("waiting for the workspace volume"):
                self._check_claim(workspace_claim(name), deadline)
            time.sleep(0.5)
        raise EngineError(
            f"pod {name} did not start within {WAIT_SECONDS} s (last: {said})",
            hint=f"kubectl -n {self.namespace} describe pod {name}",
        )

    def _check_claim(self, claim: str, deadline: float) -> None:
        if deadline - time.monotonic() > WAIT_SECONDS - 60:
            return  # give the provisioner a minute
        pvc = self._call(
            f"read persistentvolumeclaim {claim}",
            self.core.read_namespaced_persistent_volume_claim,
            claim,
            self.namespace,
        )
        if pvc.status.phase == "Pending":
            raise EngineError(
                f"the workspace volume {claim} is still unbound",
                hint="the cluster has no default StorageClass, or kubernetes.storage_class names"
                " one that cannot provision; set kubernetes.storage_class",
            )

    def remove(self, name: str, purge: bool = False) -> None:
        try:
            self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=5)
        except self.k8s.client.ApiException as err:
            if err.status != 404:
                raise self.explain(f"delete pod {name}", err) from err
        deadline = time.monotonic() + 120
        while self.find(name) is not None:
            if time.monotonic() > deadline:
                raise EngineError(f"pod {name} is still terminating after 120 s")
            time.sleep(0.3)
        if purge:
            claim = workspace_claim(name)
            try:
                self.core.delete_namespaced_persistent_volume_claim(claim, self.namespace)
            except self.k8s.client.ApiException as err:
                if err.status != 404:
                    raise self.explain(f"delete persistentvolumeclaim {claim}", err) from err

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        raise EngineError("pods are entered through the API's exec stream, not a command line")

    def session(
        self,
        name: str,
        argv: Sequence[str],
        user: str,
        tty: bool,
        workdir: str | None,
        stdin_data: bytes | None = None,
    ) -> int:
        from tazpod.engines.kubernetes.stream import run_session

        return run_session(self, name, as_user(argv, user, workdir), tty, stdin_data)


def pod_manifest(spec: ContainerSpec, settings: KubernetesConfig) -> dict[str, Any]:
    """The Pod: least privilege for the vault backend; privileged only on opt-in."""
    security: dict[str, Any] = {"runAsUser": 0, "allowPrivilegeEscalation": False}
    if spec.privileged:
        security = {"privileged": True}
    else:
        security["capabilities"] = {"add": list(spec.cap_add), "drop": list(spec.cap_drop)}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": list(spec.command),
        "workingDir": spec.workdir,
        "env": [{"name": k, "value": v} for k, v in spec.environment.items()],
        "securityContext": security,
        "volumeMounts": [{"name": "workspace", "mountPath": spec.workdir}],
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
                }
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


def as_user(argv: Sequence[str], user: str, workdir: str | None) -> list[str]:
    """Kubernetes exec has no --user: root in the pod drops to the user with setpriv."""
    inner = list(argv)
    if workdir:
        inner = ["sh", "-c", 'cd "$0" && exec "$@"', workdir, *inner]
    if user in ("0", "root"):
        return inner
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--init-groups",
        "--",
        "sh",
        "-c",
        'export HOME="$(getent passwd "$(id -un)" | cut -d: -f6)" USER="$(id -un)"'
        ' LOGNAME="$(id -un)"; exec "$@"',
        "tazpod-session",
        *inner,
    ]


def _labels(spec: ContainerSpec) -> dict[str, str]:
    return {k: v for k, v in spec.labels.items() if k != LABEL_PROJECT} | {
        LABEL_VERSION: spec.labels.get(LABEL_VERSION, "")
    }


def _notes(spec: ContainerSpec) -> dict[str, str]:
    return {LABEL_PROJECT: spec.labels.get(LABEL_PROJECT, "")}


def _camel(entry: Mapping[str, Any]) -> dict[str, Any]:
    names = {"toleration_seconds": "tolerationSeconds"}
    return {names.get(k, k): v for k, v in entry.items()}


def _state(pod: Any) -> str:
    phase = (pod.status.phase or "Pending").lower()
    if pod.metadata.deletion_timestamp is not None:
        return "terminating"
    if phase == "running":
        statuses = pod.status.container_statuses or []
        return "running" if statuses and statuses[0].ready else "starting"
    return {"succeeded": "exited", "failed": "exited"}.get(phase, phase)


def _diagnose(pod: Any) -> tuple[str | None, str]:
    """(a fatal problem, or None; what the pod is doing)."""
    name = pod.metadata.name
    for status in pod.status.container_statuses or []:
        waiting = status.state.waiting if status.state else None
        if waiting is not None and waiting.reason in PULL_FAILURES:
            return (
                f"pod {name}: the cluster cannot pull image {status.image}: {waiting.reason}"
                f" ({waiting.message or 'no detail'})",
                waiting.reason,
            )
        if waiting is not None and waiting.reason in ("CrashLoopBackOff", "CreateContainerError"):
            return f"pod {name}: {waiting.reason}: {waiting.message or ''}".strip(), waiting.reason
        if waiting is not None:
            return None, f"container {waiting.reason or 'waiting'}"
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            message = condition.message or condition.reason or "unschedulable"
            if "persistentvolumeclaim" in message.lower() and "unbound" in message.lower():
                return None, f"waiting for the workspace volume ({message})"
            if condition.reason == "Unschedulable":
                return f"pod {name} cannot be scheduled: {message}", "Unschedulable"
    if (pod.status.phase or "") in ("Failed", "Succeeded"):
        return f"pod {name} ended ({pod.status.phase}): {pod.status.message or ''}", "ended"
    return None, (pod.status.phase or "Pending").lower()


def _hint(status: str, image: str) -> str:
    if status in PULL_FAILURES:
        return (
            f"push {image} to a registry the cluster can reach (or load it on the nodes), set"
            " image: in .tazpod/config.yaml, and check kubernetes.image_pull_policy"
        )
    if status == "Unschedulable":
        return "check kubernetes.resources, node_selector and tolerations against the nodes"
    return "see `kubectl describe pod` for the events"
