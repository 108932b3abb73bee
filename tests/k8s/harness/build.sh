#!/usr/bin/env bash
# Build Kubernetes 1.20's server binaries offline from Debian bookworm's source package.
#
#   tests/k8s/harness/build.sh OUTDIR     (15-25 min on 2 cores, more under load; cached)
#
# No registry ships server binaries that run here, but Debian's source package `kubernetes`
# carries the full upstream tree with its vendored dependencies and builds with bookworm's
# Go. etcd comes from Debian's etcd-server package, unpacked (installing it would start a
# system etcd). Two patches: the vendored modern-go/reflect2 1.0.1 crashes under Go >= 1.18
# ("unexpected fault address" in map iteration, e.g. the API server encoding JSON), so it is
# replaced by Debian's 1.0.2 source; and the kubelet's negative oom_score_adj values are
# clamped to 0 (root on these machines lacks CAP_SYS_RESOURCE, and runc fails on them).
set -euo pipefail
START=$SECONDS
say() { printf 'k8s build [%dm%02ds]: %s\n' $(((SECONDS - START) / 60)) $(((SECONDS - START) % 60)) "$*" >&2; }
OUT=$(realpath -m "${1:?usage: build.sh OUTDIR}")
VERSION=1.20.5+really1.20.2-1.1+deb12u1
W=$OUT.work
rm -rf "$W" && mkdir -p "$W/apt/lists/partial" "$W/apt/cache" "$OUT.partial/bin"
# shellcheck source=/dev/null
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
if [[ -z $mirror ]]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
cat >"$W/apt/src.list" <<L
deb-src $mirror $suite main
deb-src ${mirror%/debian}/debian-security $suite-security main
L
APT=(-o "Dir::Etc::SourceList=$W/apt/src.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$W/apt/lists" -o "Dir::Cache=$W/apt/cache" -o APT::Sandbox::User=root)
say "fetching Debian's kubernetes=$VERSION source package"
apt-get "${APT[@]}" update -qq
(cd "$W" && apt-get "${APT[@]}" source -qq --download-only "kubernetes=$VERSION")
say "unpacking the source tree"
cd "$W" && tar xzf kubernetes_*.orig.tar.gz
apt-get download -qq -o APT::Sandbox::User=root golang-github-modern-go-reflect2-dev
dpkg-deb -x golang-github-modern-go-reflect2-dev_*.deb reflect2
cd kubernetes-1.20.2
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$W/reflect2/usr/share/gocode/src/github.com/modern-go/reflect2" vendor/github.com/modern-go/
rm -f vendor/github.com/modern-go/reflect2/go.mod
sed -i 's/defaultSandboxOOMAdj int = -998/defaultSandboxOOMAdj int = 0/' \
  pkg/kubelet/dockershim/docker_sandbox.go
sed -i 's/guaranteedOOMScoreAdj int = -997/guaranteedOOMScoreAdj int = 0/' pkg/kubelet/qos/policy.go
mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
# The Go build prints nothing for many minutes: report the elapsed time and the last step of
# its log every minute, and the log's tail when it fails.
say "compiling kube-apiserver, kube-controller-manager, kube-scheduler, kubelet (log: $W/make.log)"
env GOPATH="$PWD/.go" CGO_ENABLED=0 HOME="$W/home" GOCACHE="$W/gocache" GOFLAGS=-mod=vendor \
  KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean \
  KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56 \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubelet" \
  GOLDFLAGS="-s -w" >"$W/make.log" 2>&1 &
make_pid=$!
last=$SECONDS
while kill -0 "$make_pid" 2>/dev/null; do
  if ((SECONDS - last >= 60)); then
    last=$SECONDS
    step=$(grep -av '^[[:space:]]*$' "$W/make.log" | tail -1 | sed 's/^+++ \[[^]]*\] //; s/^ *//' | cut -c1-100)
    say "still compiling${step:+ (last: $step)}"
  fi
  sleep 2
done
wait "$make_pid" || { tail -30 "$W/make.log" >&2; say "make failed (log: $W/make.log)"; exit 1; }
say "compiled"
cp _output/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet} "$OUT.partial/bin/"
cd "$W" && apt-get download -qq -o APT::Sandbox::User=root etcd-server && dpkg-deb -x etcd-server_*.deb etcd-root
cp etcd-root/usr/bin/etcd "$OUT.partial/bin/"
rm -rf "$OUT" && mv "$OUT.partial" "$OUT" && rm -rf "$W"
say "done: $OUT/bin"
