# Shared by scripts/test and scripts/bench: packages, the venv, the Docker engine.
# shellcheck shell=bash

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# As root the venv lives where unprivileged test users can run it (the enclave's user runs
# `tazpod lock` inside the enclave), built from Debian's python3.
if [[ $(id -u) == 0 ]]; then default_venv=/var/lib/tazpod-test/venv; else default_venv=$ROOT/.venv; fi
VENV=${TAZPOD_VENV:-$default_venv}
PYTHON=${TAZPOD_PYTHON:-/usr/bin/python3}

# apt-get that waits (bounded, with a message) for another apt/dpkg run to release its locks
# instead of failing at once with "Could not get lock" (exit 100).
APT_LOCK_WAIT=${TAZPOD_APT_LOCK_WAIT:-600}   # seconds
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) out rc said=
  while :; do
    out=$(mktemp)
    rc=0
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_WAIT" "$@" 2>"$out" || rc=$?
    if ((rc == 0)) || ! grep -qE 'Could not get lock|Unable to lock|Unable to acquire' "$out" \
        || ((SECONDS >= deadline)); then
      grep -v '^debconf: ' "$out" >&2 || true
      rm -f "$out"
      return "$rc"
    fi
    rm -f "$out"
    [[ -n $said ]] || log "another apt/dpkg run holds its lock; waiting up to ${APT_LOCK_WAIT}s"
    said=1
    sleep 2
  done
}

# Install the Debian packages that are not installed yet (by package name; callers choose the
# package from the program that is missing, e.g. docker.io for dockerd).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  log "installing ${missing[*]}"
  apt_get update -qq || die "apt-get update failed"
  apt_get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# daemon COMMAND...: run a long-lived program (in the background, by the caller's `&`) without
# the descriptors this script inherited beyond 0-2. One of them may hold a lock, e.g. the fd of
# `flock /tmp/tazpod-machine.lock ./scripts/test`: a dockerd that kept it would hold that lock
# for as long as it runs, long after the script ended.
daemon() {
  local fd
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-"
  done
  exec nohup "$@"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return; fi
  log "starting dockerd (no bridge, no iptables: containers use --network host or none)"
  mkdir -p /var/log/tazpod-test
  daemon dockerd --bridge=none --iptables=false --ip6tables=false \
    </dev/null >/var/log/tazpod-test/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  tail -20 /var/log/tazpod-test/dockerd.log >&2
  die "dockerd did not start"
}

ensure_venv() {
  local stamp pip_log
  stamp=$(sha256sum pyproject.toml | cut -c1-16)
  if [[ ! -x $VENV/bin/python || $(cat "$VENV/.tazpod-stamp" 2>/dev/null) != "$stamp" ]]; then
    log "creating $VENV"
    (umask 022; mkdir -p "$(dirname "$VENV")"; "$PYTHON" -m venv --clear "$VENV")
    "$VENV/bin/pip" install -q --upgrade pip setuptools wheel 2>/dev/null
    (umask 022; "$VENV/bin/pip" install -q ".[test]" 2>&1 | grep -v "is ignored: it is neither" >&2 || true)
    "$VENV/bin/python" -c "import tazpod, pytest, pyrage, docker, infisical_sdk, kubernetes" \
      || die "the test environment in $VENV is incomplete"
    echo "$stamp" >"$VENV/.tazpod-stamp"
  fi
  # A real (non-editable) install, so the package is readable wherever the venv is.
  pip_log=$(mktemp)
  if ! (umask 022; "$VENV/bin/pip" install -q --no-deps --no-build-isolation --force-reinstall . \
        >"$pip_log" 2>&1); then
    cat "$pip_log" >&2; rm -f "$pip_log"; die "installing tazpod into $VENV failed"
  fi
  rm -f "$pip_log"
  rm -rf build
}

# Ubuntu's archive keyring (Debian 12 does not package it), for bootstrapping Ubuntu 24.04
# images from Ubuntu's mirror: its .deb, pinned by sha256, unpacked into the test cache.
UBUNTU_MIRROR=${TAZPOD_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
UBUNTU_KEYRING_DEB=pool/main/u/ubuntu-keyring/ubuntu-keyring_2023.11.28.1_all.deb
UBUNTU_KEYRING_SHA256=36de43b15853ccae0028e9a767613770c704833f82586f28eb262f0311adb8a8
UBUNTU_KEYRING=/var/cache/tazpod-test/ubuntu-keyring/ubuntu-archive-keyring.gpg
ensure_ubuntu_keyring() {
  local cache=${UBUNTU_KEYRING%/*} deb
  export TAZPOD_TEST_UBUNTU_KEYRING=$UBUNTU_KEYRING
  export TAZPOD_TEST_UBUNTU_MIRROR=$UBUNTU_MIRROR
  [[ -s $TAZPOD_TEST_UBUNTU_KEYRING ]] && return 0
  log "fetching Ubuntu's archive keyring (pinned sha256)"
  mkdir -p "$cache"
  deb=$cache/keyring.deb
  curl -fsS --retry 3 -o "$deb" "$UBUNTU_MIRROR/$UBUNTU_KEYRING_DEB" \
    || die "cannot download $UBUNTU_MIRROR/$UBUNTU_KEYRING_DEB (set TAZPOD_UBUNTU_MIRROR)"
  echo "$UBUNTU_KEYRING_SHA256  $deb" | sha256sum --check --quiet \
    || die "$deb does not have the pinned sha256; refusing it"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/keyrings/ubuntu-archive-keyring.gpg \
    >"$TAZPOD_TEST_UBUNTU_KEYRING.tmp"
  mv "$TAZPOD_TEST_UBUNTU_KEYRING.tmp" "$TAZPOD_TEST_UBUNTU_KEYRING"
  rm -f "$deb"
}
