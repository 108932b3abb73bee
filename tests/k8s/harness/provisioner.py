"""The test cluster's dynamic provisioner: every Pending claim of StorageClass `tazpod-hostpath`
gets a new hostPath PersistentVolume under the state directory. Runs until killed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kubernetes import client, config, watch

CLASS = "tazpod-hostpath"


def main() -> None:
    root = Path(sys.argv[1])
    config.load_kube_config(os.environ["KUBECONFIG"])
    core = client.CoreV1Api()
    storage = client.StorageV1Api()
    try:
        storage.create_storage_class(
            client.V1StorageClass(
                metadata=client.V1ObjectMeta(
                    name=CLASS,
                    annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                ),
                provisioner="tazpod.test/hostpath",
                reclaim_policy="Delete",
                volume_binding_mode="Immediate",
            )
        )
    except client.ApiException as err:
        if err.status != 409:
            raise
    print("provisioner ready", flush=True)
    while True:
        for event in watch.Watch().stream(
            core.list_persistent_volume_claim_for_all_namespaces, timeout_seconds=300
        ):
            claim = event["object"]
            if (
                event["type"] == "DELETED"
                or claim.status.phase != "Pending"
                or claim.spec.storage_class_name != CLASS
                or claim.spec.volume_name
            ):
                continue
            name = f"pvc-{claim.metadata.uid}"
            path = root / name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o755)
            volume = client.V1PersistentVolume(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1PersistentVolumeSpec(
                    capacity={"storage": claim.spec.resources.requests["storage"]},
                    access_modes=claim.spec.access_modes,
                    storage_class_name=CLASS,
                    persistent_volume_reclaim_policy="Retain",
                    host_path=client.V1HostPathVolumeSource(path=str(path), type="Directory"),
                    claim_ref=client.V1ObjectReference(
                        namespace=claim.metadata.namespace,
                        name=claim.metadata.name,
                        uid=claim.metadata.uid,
                    ),
                ),
            )
            try:
                core.create_persistent_volume(volume)
                print("provisioned", name, flush=True)
            except client.ApiException as err:
                if err.status != 409:
                    print("error", err, flush=True)


if __name__ == "__main__":
    main()
