"""Why a pod or an API call failed, in words a user can act on.

Pure functions of what the Kubernetes client returns (pods, ApiExceptions);
the engine and the exec stream raise what they produce.
"""

from __future__ import annotations

import json
from typing import Any

from tazpod.errors import EngineError

PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")
# What tazpod does with the API, as RBAC rules (the Python client's websocket exec is a
# GET of pods/exec: it needs get as well as create). The README's Role is exactly this.
RBAC_RULES = (
    ("pods", ("get", "list", "create", "delete")),
    ("pods/exec", ("create", "get")),
    ("persistentvolumeclaims", ("get", "create", "delete")),
)
RBAC_NEEDED = (
    "; ".join(f"{resource}: {', '.join(verbs)}" for resource, verbs in RBAC_RULES)
    + " (in the project's namespace)"
)


def role_yaml(namespace: str) -> str:
    rules = "".join(
        f'\n    - {{apiGroups: [""], resources: [{resource}], verbs: [{", ".join(verbs)}]}}'
        for resource, verbs in RBAC_RULES
    )
    return (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
        f"metadata: {{name: tazpod-user, namespace: {namespace}}}\nrules:{rules}"
    )


def explain_api_error(what: str, err: Any, namespace: str) -> EngineError:
    """An ApiException while trying to ``what``, with the permission it lacked if any."""
    try:
        message = json.loads(err.body or "{}").get("message") or err.reason
    except ValueError:
        message = err.reason
    if err.status == 403:
        return EngineError(
            f"Kubernetes refused to {what}: {message}",
            hint=f"the account needs, in namespace {namespace}: {RBAC_NEEDED}",
        )
    if err.status == 401:
        return EngineError(
            f"Kubernetes did not accept the credentials to {what}: {message}",
            hint="log in again, or fix the user in the kubeconfig context",
        )
    return EngineError(f"cannot {what}: {message} (HTTP {err.status})")


def pod_state(pod: Any) -> str:
    """The pod as tazpod's container states name it (running, starting, exited, ...)."""
    phase = (pod.status.phase or "Pending").lower()
    if pod.metadata.deletion_timestamp is not None:
        return "terminating"
    if phase == "running":
        statuses = pod.status.container_statuses or []
        return "running" if statuses and statuses[0].ready else "starting"
    return {"succeeded": "exited", "failed": "exited"}.get(phase, phase)


def diagnose(pod: Any) -> tuple[str | None, str]:
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
            problem = f"pod {name}: {waiting.reason}: {waiting.message or ''}".strip()
            ended = status.last_state.terminated if status.last_state else None
            if ended is not None:  # what the container itself said as it ended
                said = (ended.message or "").strip() or "no message"
                problem += f"; its last run exited {ended.exit_code} ({ended.reason}): {said}"
            return problem, waiting.reason
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


def hint_for(status: str, image: str) -> str:
    """What to do about the fatal ``status`` that ``diagnose`` reported."""
    if status in PULL_FAILURES:
        return (
            f"push {image} to a registry the cluster can reach (or load it on the nodes), set"
            " image: in .tazpod/config.yaml, and check kubernetes.image_pull_policy"
        )
    if status == "Unschedulable":
        return "check kubernetes.resources, node_selector and tolerations against the nodes"
    return "see `kubectl describe pod` for the events"
