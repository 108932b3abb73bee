"""k8s tier: a real Kubernetes cluster on this machine (see harness/cluster.sh).

./scripts/test builds the cluster's binaries (cached) and starts dockerd; this
session starts the cluster, builds the base vertical on the local Docker engine (the
kubelet runs pods from that engine's images) and stops the cluster at the end.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tazpod import __version__

HARNESS = Path(__file__).parent / "harness"
BIN = Path(os.environ.get("TAZPOD_K8S_BIN", "/var/cache/tazpod-test/k8s/bin"))
BOOTSTRAP = "tazpod-bootstrap:bookworm"
IMAGE = f"tazpod-base:{__version__}"
PASSPHRASE = "k8s passphrase"


def tazpod_bin() -> str:
    return str(Path(sys.executable).parent / "tazpod")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the k8s tier needs root (it runs a kubelet)")
    if not (BIN / "kube-apiserver").exists():
        pytest.fail(f"no Kubernetes binaries in {BIN} (./scripts/test k8s builds them)")
    done = subprocess.run(
        [str(HARNESS / "cluster.sh"), "up", str(BIN), sys.executable],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    kubeconfig = Path(done.stdout.strip().splitlines()[-1])
    # The node's copy of tazpod's seccomp profile, as the README tells an admin to install
    # it (the harness's kubelet reads Localhost profiles from its state's seccomp/).
    profile = subprocess.run(
        [tazpod_bin(), "image", "seccomp"], capture_output=True, text=True, check=True
    )
    (kubeconfig.parent / "seccomp" / "tazpod.json").write_text(profile.stdout)
    yield kubeconfig
    subprocess.run([str(HARNESS / "cluster.sh"), "down"], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The base vertical with the tazpod under test, on the Docker engine the kubelet uses."""
    if subprocess.run(["docker", "image", "inspect", BOOTSTRAP], capture_output=True).returncode:
        subprocess.run(
            [tazpod_bin(), "image", "bootstrap", "--engine", "docker", "--tag", BOOTSTRAP],
            check=True,
        )
    root = tmp_path_factory.mktemp("k8s-build")
    subprocess.run([tazpod_bin(), "init", "base"], cwd=root, check=True, capture_output=True)
    config = root / ".tazpod" / "config.yaml"
    config.write_text(
        config.read_text()
        + f"build:\n  args:\n    BASE_IMAGE: {BOOTSTRAP}\n    WITH_LAZYVIM: '0'\n"
    )
    subprocess.run([tazpod_bin(), "trust", "--yes"], cwd=root, check=True, capture_output=True)
    done = subprocess.run([tazpod_bin(), "build"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return IMAGE


def kube_settings(extra: str = "") -> str:
    return (
        "engine: kubernetes\n"
        "kubernetes:\n"
        "  namespace: default\n"
        "  size: 1Gi\n"
        "  image_pull_policy: IfNotPresent\n"
        "  resources: {requests: {cpu: 100m, memory: 64Mi}}\n" + extra
    )


@dataclass
class DevPod:
    root: Path
    kubeconfig: Path
    passfile: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAZPOD_", "SUDO_"))}
        env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def tazpod(
        self, *args: str, timeout: float = 300, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tazpod_bin(), *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )

    @property
    def name(self) -> str:
        for line in (self.root / ".tazpod" / "config.yaml").read_text().splitlines():
            if line.startswith("container_name:"):
                return line.split(":", 1)[1].strip().strip('"')
        raise AssertionError("no container_name")

    def api(self, path: str) -> dict[str, object]:
        """A GET on the API server with the admin credentials (no kubectl needed)."""
        pki = self.kubeconfig.parent / "pki"
        done = subprocess.run(
            [
                "curl",
                "-s",
                "--cacert",
                str(pki / "ca.crt"),
                "--cert",
                str(pki / "admin.crt"),
                "--key",
                str(pki / "admin.key"),
                f"https://127.0.0.1:16443{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]


def new_project(kubeconfig: Path, extra: str = "") -> DevPod:
    root = Path(tempfile.mkdtemp(prefix="tazpod-k8s-", dir="/var/tmp"))
    subprocess.run([tazpod_bin(), "init", "base"], cwd=root, check=True, capture_output=True)
    config = root / ".tazpod" / "config.yaml"
    config.write_text(config.read_text().replace("engine: docker\n", "") + kube_settings(extra))
    subprocess.run([tazpod_bin(), "trust", "--yes"], cwd=root, check=True, capture_output=True)
    passfile = root / ".passphrase"
    passfile.write_text(PASSPHRASE + "\n")
    passfile.chmod(0o600)
    (root / ".gitignore").write_text(".passphrase\nbuild/\n")
    return DevPod(root, kubeconfig, passfile)


# Least privilege (issue 21): tazpod's own seccomp profile on the node, no CAP_SYS_ADMIN.
PROFILE = "  seccomp_profile: tazpod.json\n"


@pytest.fixture
def devpod(cluster: Path, image: str) -> Iterator[DevPod]:
    pod = new_project(cluster, PROFILE)
    yield pod
    pod.tazpod("down", "--purge", timeout=180)
    shutil.rmtree(pod.root, ignore_errors=True)


def service_account_kubeconfig(
    admin: DevPod, account: str, verbs: list[str], rules: list[dict[str, object]] | None = None
) -> Path:
    """A kubeconfig for a service account allowed only ``verbs`` on pods (or ``rules``)."""
    if rules is None:
        rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": verbs}]
    manifests = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": account},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": account},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "default"}],
        },
    ]
    from kubernetes import client, config, utils

    api = config.new_client_from_config(str(admin.kubeconfig))
    for manifest in manifests:
        with contextlib.suppress(utils.FailToCreateError):  # exists from an earlier test
            utils.create_from_dict(api, manifest, namespace="default")
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + 30
    while True:
        secrets = core.read_namespaced_service_account(account, "default").secrets
        if secrets:
            break
        assert time.monotonic() < deadline, "no token for the service account"
        time.sleep(0.3)
    secret = core.read_namespaced_secret(str(secrets[0].name), "default")
    assert secret.data is not None
    token = base64.b64decode(secret.data["token"]).decode()
    pki = admin.kubeconfig.parent / "pki"
    path = admin.root / f"{account}.kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f'clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:16443",'
        f" certificate-authority: {pki / 'ca.crt'}}}}}]\n"
        f"users: [{{name: {account}, user: {{token: {token}}}}}]\n"
        f"contexts: [{{name: {account}, context: {{cluster: c, user: {account},"
        " namespace: default}}]\n"
        f"current-context: {account}\n"
    )
    path.chmod(0o600)
    return path


AS_ROOT = """
import sys
from tazpod.engines.kubernetes.engine import KubernetesEngine
from tazpod.engines.kubernetes.stream import run_capture
from tazpod.project.schema import KubernetesConfig
engine = KubernetesEngine(KubernetesConfig(namespace="default"))
code, out, err = run_capture(engine, sys.argv[1], ["sh", "-c", sys.argv[2]])
sys.stdout.buffer.write(out)
sys.stderr.buffer.write(err)
sys.exit(code)
"""


def as_root_in_pod(pod: DevPod, script: str) -> subprocess.CompletedProcess[str]:
    """`kubectl exec POD -- sh -c SCRIPT`: the pod's default user, root (no kubectl here)."""
    return subprocess.run(
        [sys.executable, "-c", AS_ROOT, pod.name, script],
        env=pod.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
