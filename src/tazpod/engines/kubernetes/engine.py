"""Kubernetes: the dev pod and its workspace volume, through the official Python client.

One Pod per project (the container name from config.yaml) running the
project's image with `sleep infinity` (the pod's shared process namespace
makes the pause container its init, so stop is instant and orphans are
reaped), and one PersistentVolumeClaim, `<name>-workspace`, mounted at
/workspace, where the project and its (encrypted) vault live. `down` deletes
the pod and keeps the claim unless asked to purge it.

The manifests are in tazpod.engines.kubernetes.manifest, the reading of
failures in .diagnose, and sessions over the exec stream in .stream.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tazpod.engines.base import LABEL_MANAGED, ContainerInfo, ContainerSpec, Progress
from tazpod.engines.kubernetes.diagnose import diagnose, explain_api_error, hint_for, pod_state
from tazpod.engines.kubernetes.manifest import claim_manifest, pod_manifest, workspace_claim
from tazpod.errors import EngineError
from tazpod.project.schema import KubernetesConfig

WAIT_SECONDS = 300
# The stdin relay (tazpod.engines.kubernetes.relay), from the image's own root-owned tazpod
RELAY = ("/opt/tazpod/bin/python", "-I", "-m", "tazpod.engines.kubernetes.relay")


def _client() -> Any:
    try:
        import kubernetes
    except ImportError as err:
        raise EngineError(
            "engine: kubernetes needs the official Kubernetes client",
            hint="pip install 'tazpod[kubernetes]' (or: pip install kubernetes)",
        ) from err
    return kubernetes


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
        except self.unreachable as err:
            raise self.cannot_reach(what, err) from err

    @property
    def unreachable(self) -> tuple[type[BaseException], ...]:
        """What the client raises when the API server cannot be reached at all (urllib3's
        MaxRetryError after connection refused, TLS and DNS failures included)."""
        import urllib3

        return (OSError, urllib3.exceptions.HTTPError, self.k8s.config.ConfigException)

    def cannot_reach(self, what: str, err: BaseException) -> EngineError:
        reason = getattr(err, "reason", None) or err
        return EngineError(
            f"cannot reach the Kubernetes API at {self.api_client.configuration.host} to"
            f" {what}: {type(reason).__name__}",
            hint="check that the cluster is up and reachable, and kubernetes.context in"
            " .tazpod/config.yaml (`kubectl --context ... get pods` should answer)",
        )

    def explain(self, what: str, err: Any) -> EngineError:
        return explain_api_error(what, err, self.namespace)

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
            pod.metadata.name,
            pod.metadata.uid,
            pod_state(pod),
            pod.spec.containers[0].image,
            labels,
        )

    def find(self, name: str) -> ContainerInfo | None:
        try:
            pod = self.core.read_namespaced_pod(name, self.namespace)
        except self.k8s.client.ApiException as err:
            if err.status == 404:
                return None
            raise self.explain(f"read pod {name}", err) from err
        except self.unreachable as err:
            raise self.cannot_reach(f"read pod {name}", err) from err
        return self._info(pod)

    def list_managed(self) -> list[ContainerInfo]:
        pods = self._call(
            "list pods",
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=f"{LABEL_MANAGED}=true",
        )
        return [self._info(pod) for pod in pods.items]

    def missing_access(self) -> list[str]:
        """The RBAC rules tazpod needs that this account lacks here (SelfSubjectAccessReview,
        which every authenticated account may ask)."""
        from tazpod.engines.kubernetes.diagnose import RBAC_RULES

        api = self.k8s.client.AuthorizationV1Api(self.api_client)
        missing = []
        for resource, verbs in RBAC_RULES:
            kind, _, sub = resource.partition("/")
            lacking = []
            for verb in verbs:
                attributes = {"namespace": self.namespace, "resource": kind, "verb": verb}
                if sub:
                    attributes["subresource"] = sub
                review = self._call(
                    f"ask whether it may {verb} {resource}",
                    api.create_self_subject_access_review,
                    {"spec": {"resourceAttributes": attributes}},
                )
                if not review.status.allowed:
                    lacking.append(verb)
            if lacking:
                missing.append(f"{resource}: {', '.join(lacking)}")
        return missing

    def check_access(self) -> None:
        """Before anything is created: every permission `up` and the sessions need."""
        from tazpod.engines.kubernetes.diagnose import role_yaml

        missing = self.missing_access()
        if missing:
            raise EngineError(
                f"this Kubernetes account may not, in namespace {self.namespace}: "
                + "; ".join(missing)
                + " (nothing was created)",
                hint="bind the account to a Role with these rules (README, On Kubernetes):\n"
                + role_yaml(self.namespace),
            )

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        self.check_access()
        self._ensure_claim(spec)
        pod = self._call(
            f"create pod {spec.name}",
            self.core.create_namespaced_pod,
            self.namespace,
            pod_manifest(spec, self.settings),
        )
        return self._info(pod)

    created_claim = False  # whether this engine made the workspace volume (a failed up's)

    def _ensure_claim(self, spec: ContainerSpec) -> None:
        claim = workspace_claim(spec.name)
        try:
            self.core.read_namespaced_persistent_volume_claim(claim, self.namespace)
            return
        except self.k8s.client.ApiException as err:
            if err.status != 404:
                raise self.explain(f"read persistentvolumeclaim {claim}", err) from err
        self._call(
            f"create persistentvolumeclaim {claim}",
            self.core.create_namespaced_persistent_volume_claim,
            self.namespace,
            claim_manifest(spec, self.settings),
        )
        self.created_claim = True

    def start(self, name: str, progress: Progress = lambda _m: None) -> None:
        """Wait until the pod runs; explain why when it cannot."""
        deadline = time.monotonic() + WAIT_SECONDS
        said = ""
        while time.monotonic() < deadline:
            pod = self._call(
                f"read pod {name}", self.core.read_namespaced_pod, name, self.namespace
            )
            if pod_state(pod) == "running":
                return
            problem, status = diagnose(pod)
            if problem is not None:
                raise EngineError(problem, hint=hint_for(status, pod.spec.containers[0].image))
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
            wanted = pvc.spec.storage_class_name
            which = (
                f"StorageClass {wanted!r} (kubernetes.storage_class) has not provisioned it"
                if wanted
                else "it names no StorageClass and the cluster has no default one"
            )
            raise EngineError(
                f"the workspace volume {claim} is still unbound after a minute: {which}",
                hint="set kubernetes.storage_class to a class that provisions volumes here"
                f" (kubectl get storageclass; kubectl -n {self.namespace} describe pvc {claim})",
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
                pvc = self.core.read_namespaced_persistent_volume_claim(claim, self.namespace)
                self.core.delete_namespaced_persistent_volume_claim(claim, self.namespace)
            except self.k8s.client.ApiException as err:
                if err.status != 404:
                    raise self.explain(f"delete persistentvolumeclaim {claim}", err) from err
                return
            self.purge_note = self._kept_volume(pvc.spec.volume_name)

    purge_note: str | None = None  # after remove(purge=True): what may outlive the claim

    def _kept_volume(self, volume: str | None) -> str | None:
        """A volume that outlives its claim (reclaim policy Retain) keeps the encrypted
        vault on the node: say so, or that it could not be asked."""
        if not volume:
            return None
        try:
            pv = self.core.read_persistent_volume(volume)
        except self.k8s.client.ApiException as err:
            return (
                f"could not read persistentvolume {volume} (HTTP {err.status}): if its reclaim"
                " policy is Retain, it keeps the (encrypted) vault on the node until an admin"
                f" deletes it (kubectl delete pv {volume})"
            )
        if pv.spec.persistent_volume_reclaim_policy == "Retain":
            return (
                f"persistentvolume {volume} is kept (reclaim policy Retain): the workspace and"
                f" the encrypted vault stay on it until it is deleted (kubectl delete pv {volume})"
            )
        return None

    def exec_argv(
        self, name: str, argv: Sequence[str], user: str, tty: bool, workdir: str | None
    ) -> list[str]:
        raise EngineError("pods are entered through the API's exec stream, not a command line")

    def lifeline(self, name: str, argv: Sequence[str]) -> Any:
        """A root command in the pod that lives as long as this process holds its stream."""
        from tazpod.engines.kubernetes.stream import PodLifeline

        return PodLifeline(self, name, argv)

    def session(
        self,
        name: str,
        argv: Sequence[str],
        user: str,
        tty: bool,
        workdir: str | None,
        stdin_data: bytes | None = None,
    ) -> int:
        from tazpod.engines.kubernetes.stream import piped_stdin, run_relayed, run_session

        if not tty and stdin_data is None and piped_stdin():
            # `echo hi | tazpod exec -- cat`: the pod's relay ends the command's stdin
            relayed = [*RELAY, *argv]
            return run_relayed(self, name, as_user(relayed, user, workdir))
        return run_session(self, name, as_user(argv, user, workdir), tty, stdin_data)

    def stdio(self, name: str, argv: Sequence[str], preamble: bytes) -> int:
        """A root command in the pod on this process's stdin and stdout, as they come (the
        ssh protocol, for `tazpod ssh --stdio`), after ``preamble``."""
        from tazpod.engines.kubernetes.stream import run_relayed

        return run_relayed(self, name, [*RELAY, *argv], preamble)


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
