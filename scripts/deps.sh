#!/usr/bin/env bash
# Install everything tempesta-rs needs to build its test kernel, the module, the host crates,
# and to boot and test the module in a VM. Idempotent: a second run only checks.
#
# Versions are pinned where they matter to the build: the kernel source (the kernel cache key
# includes it), the Rust compiler the kernel is built with, bindgen and virtme-ng.
set -euo pipefail

KSRC_PKG_VER=${KSRC_PKG_VER:-6.12.117-1~deb12u1}
RUSTC_WEB_VER=${RUSTC_WEB_VER:-1.96.0+dfsg1-1~deb12u2}
BINDGEN_VER=0.73.2
VIRTME_NG_VER=1.42

log() { printf 'deps: %s\n' "$*" >&2; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

APT_PKGS=(
  build-essential bc flex bison libelf-dev libssl-dev cpio dwarves udev kmod
  clang lld llvm python3 python3-pip
  qemu-system-x86 iproute2 procps curl
  nginx-light haproxy varnish wrk apache2-utils nghttp2-client iptables nftables
)

need_apt=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
pinned=()
dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null | grep -qx "$KSRC_PKG_VER" ||
  pinned+=("linux-source-6.12=$KSRC_PKG_VER")
dpkg-query -W -f='${Version}' rustc-web 2>/dev/null | grep -qx "$RUSTC_WEB_VER" ||
  pinned+=("rustc-web=$RUSTC_WEB_VER" "rust-web-src=$RUSTC_WEB_VER")

if [ ${#need_apt[@]} -gt 0 ] || [ ${#pinned[@]} -gt 0 ]; then
  log "apt: ${need_apt[*]} ${pinned[*]}"
  $SUDO apt-get update -q
  # nginx and varnish must not keep running on the host after install: the tests start their
  # own instances inside the VM.
  $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" "${pinned[@]}" ||
    { log "pinned versions unavailable, falling back to the candidates";
      $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" \
        linux-source-6.12 rustc-web rust-web-src; }
  for s in nginx varnish haproxy; do $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true; done
fi

# bindgen-cli: the kernel needs >= 0.65.1, Debian's is 0.60.
if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VER"; then
  log "cargo install bindgen-cli@$BINDGEN_VER"
  cargo install --locked "bindgen-cli@$BINDGEN_VER"
fi

# virtme-ng, the VM runner.
if ! vng --version 2>/dev/null | grep -q "$VIRTME_NG_VER"; then
  log "pip install virtme-ng==$VIRTME_NG_VER"
  python3 -m pip install -q "virtme-ng==$VIRTME_NG_VER" 2>/dev/null ||
    python3 -m pip install -q --break-system-packages "virtme-ng==$VIRTME_NG_VER"
fi

command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
log "ok"
