#!/usr/bin/env bash
# A real single-node Kubernetes for the k8s tier, on this machine's dockerd, loopback only.
#
#   tests/k8s/harness/cluster.sh up BIN_DIR PYTHON    start it; prints the kubeconfig path
#   tests/k8s/harness/cluster.sh down                 stop it and remove its pods and state
#
# etcd, kube-apiserver (RBAC, 127.0.0.1:16443), controller-manager, scheduler and a kubelet on
# the local dockerd (dockershim); pods get an isolated network namespace with no route out;
# PersistentVolumeClaims are bound by provisioner.py (a hostPath provisioner, default class).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
S=${TAZPOD_K8S_STATE:-/var/lib/tazpod-test/k8s-run}
export TAZPOD_K8S_STATE=$S
PAUSE=tazpod-k8s/pause:1

stop() {
  for c in provisioner kubelet scheduler controller-manager apiserver etcd; do
    f=$S/run/$c.pid; [[ -f $f ]] || continue; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true; rm -f "$f"
  done
  docker ps -aq --filter name=^/k8s_ | xargs -r docker rm -f >/dev/null 2>&1 || true
  grep " $S/kubelet-root" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount 2>/dev/null || true
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "cluster.sh: $what did not come up in ${limit}s; logs in $S/logs" >&2
  tail -5 "$S"/logs/*.log >&2 || true
  return 1
}

api() { curl -sf --cacert "$S/pki/ca.crt" --cert "$S/pki/admin.crt" --key "$S/pki/admin.key" \
  "https://127.0.0.1:16443$1"; }
node_ready() { api /api/v1/nodes/localhost | jq -e \
  '.status.conditions[] | select(.type=="Ready") | .status=="True"' | grep -q true; }

pki() {
  local D=$S/pki; mkdir -p "$D"; cd "$D"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
    -subj /CN=tazpod-test-ca 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes\nextendedKeyUsage=serverAuth\n' >apiserver.ext
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
    -subj /CN=kube-apiserver 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out apiserver.crt -days 30 -extfile apiserver.ext 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
    -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt \
    -days 30 -extfile client.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  cat >"$S/kubeconfig" <<K
apiVersion: v1
kind: Config
clusters: [{name: tazpod-test, cluster: {server: "https://127.0.0.1:16443", certificate-authority: $D/ca.crt}}]
users: [{name: admin, user: {client-certificate: $D/admin.crt, client-key: $D/admin.key}}]
contexts: [{name: tazpod-test, context: {cluster: tazpod-test, user: admin}}]
current-context: tazpod-test
K
  cd - >/dev/null
}

pause_image() {
  docker image inspect "$PAUSE" >/dev/null 2>&1 && return
  local T; T=$(mktemp -d)
  gcc -Os -static -o "$T/pause" "$HERE/pause.c" && strip "$T/pause"
  tar -C "$T" -c pause | docker import -c 'ENTRYPOINT ["/pause"]' - "$PAUSE" >/dev/null
  rm -rf "$T"
}

up() {
  local B=$1 PY=$2
  stop
  rm -rf "$S"; mkdir -p "$S"/{logs,run,pv,cni-conf,cni-state,seccomp}
  pki
  pause_image
  cp "$HERE/cni/"* "$S/"; mkdir -p "$S/cni-bin"; mv "$S/loopback" "$S/tazpod-netns" "$S/cni-bin/"
  echo '{"cniVersion":"0.3.1","name":"tazpod-test","plugins":[{"type":"tazpod-netns"}]}' \
    >"$S/cni-conf/10-tazpod.conflist"
  cat >"$S/kubelet-config.yaml" <<'C'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
serializeImagePulls: false
C
  local K=$S/pki L=$S/logs
  "$B/etcd" --name tazpod --data-dir "$S/etcd" \
    --listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
    --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
    --initial-cluster tazpod=http://127.0.0.1:12380 \
    --listen-metrics-urls http://127.0.0.1:12381 >"$L/etcd.log" 2>&1 &
  echo $! >"$S/run/etcd.pid"
  "$B/kube-apiserver" --etcd-servers=http://127.0.0.1:12379 --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 --secure-port=16443 --insecure-port=0 \
    --endpoint-reconciler-type=none --tls-cert-file="$K/apiserver.crt" \
    --tls-private-key-file="$K/apiserver.key" --client-ca-file="$K/ca.crt" \
    --service-account-key-file="$K/sa.pub" --service-account-signing-key-file="$K/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc \
    --api-audiences=https://kubernetes.default.svc --service-cluster-ip-range=10.0.0.0/24 \
    --authorization-mode=RBAC --allow-privileged=true \
    --kubelet-client-certificate="$K/admin.crt" --kubelet-client-key="$K/admin.key" \
    --kubelet-preferred-address-types=Hostname --profiling=false >"$L/apiserver.log" 2>&1 &
  echo $! >"$S/run/apiserver.pid"
  wait_for 60 "the API server" api /readyz
  export KUBECONFIG=$S/kubeconfig
  "$B/kube-controller-manager" --kubeconfig="$KUBECONFIG" --leader-elect=false --port=0 \
    --secure-port=0 --service-account-private-key-file="$K/sa.key" --root-ca-file="$K/ca.crt" \
    --use-service-account-credentials=false \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-route,-service' >"$L/controller-manager.log" 2>&1 &
  echo $! >"$S/run/controller-manager.pid"
  "$B/kube-scheduler" --kubeconfig="$KUBECONFIG" --leader-elect=false --port=0 --secure-port=0 \
    --bind-address=127.0.0.1 >"$L/scheduler.log" 2>&1 &
  echo $! >"$S/run/scheduler.pid"
  "$B/kubelet" --kubeconfig="$KUBECONFIG" --config="$S/kubelet-config.yaml" \
    --container-runtime=docker --docker-endpoint=unix:///var/run/docker.sock \
    --pod-infra-container-image="$PAUSE" --hostname-override=localhost --network-plugin=cni \
    --cni-bin-dir="$S/cni-bin" --cni-conf-dir="$S/cni-conf" --root-dir="$S/kubelet-root" \
    --cert-dir="$S/kubelet-pki" --seccomp-profile-root="$S/seccomp" \
    --v=1 >"$L/kubelet.log" 2>&1 &
  echo $! >"$S/run/kubelet.pid"
  "$PY" "$HERE/provisioner.py" "$S/pv" >"$L/provisioner.log" 2>&1 &
  echo $! >"$S/run/provisioner.pid"
  wait_for 90 "the node" node_ready
  wait_for 60 "the default service account" api /api/v1/namespaces/default/serviceaccounts/default
  wait_for 30 "the storage class" api /apis/storage.k8s.io/v1/storageclasses/tazpod-hostpath
  echo "$S/kubeconfig"
}

case "${1:-}" in
  up) up "${2:?BIN_DIR}" "${3:?PYTHON}" ;;
  down) stop; rm -rf "$S" ;;
  *) echo "usage: cluster.sh up BIN_DIR PYTHON | down" >&2; exit 2 ;;
esac
