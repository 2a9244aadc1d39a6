#!/usr/bin/env bash
# Build (or find in the cache) the test kernel and print the path of its build tree.
#
#   scripts/kernel.sh debug|release
#
# The tree is built with O= from a pristine copy of Debian's linux-source-6.12, configured as
# tinyconfig + scripts/kernel/base.config + scripts/kernel/<variant>.config, and cached under
# $TFW_CACHE_DIR (default /var/cache/tempesta-rs) keyed by a hash of everything that decides its
# content (fragments, this script, kernel source version, compilers). A second run with the same
# key costs nothing; a fresh machine rebuilds unattended (about 6 to 9 minutes on 2 cores).
set -euo pipefail

variant=${1:?usage: kernel.sh debug|release}
here=$(cd "$(dirname "$0")" && pwd)
frag_dir=$here/kernel
[ -f "$frag_dir/$variant.config" ] || { echo "kernel.sh: unknown variant '$variant'" >&2; exit 2; }

cache=${TFW_CACHE_DIR:-/var/cache/tempesta-rs}
tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || { echo "kernel.sh: $tarball missing: run scripts/deps.sh" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
kmake=(make LLVM=1 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc BINDGEN=bindgen)

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { cat "$frag_dir/base.config" "$frag_dir/$variant.config" "$0"; echo "$kver";
         /usr/bin/rustc --version; bindgen --version; clang --version | head -1; } |
       sha256sum | cut -c1-12)
out=$cache/kernel-$variant-$key
if [ -f "$out/.tfw-done" ]; then echo "$out"; exit 0; fi

# A pristine source tree per kernel version: O= refuses a tree that was ever built in place.
src=$cache/src-$kver
if [ ! -f "$src/.tfw-extracted" ]; then
  echo "kernel.sh: extracting $tarball" >&2
  rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp"
  tar -C "$src.tmp" --strip-components=1 -xf "$tarball"
  touch "$src.tmp/.tfw-extracted"
  mv "$src.tmp" "$src"
fi

# Drop stale trees of this variant so the cache stays bounded.
for old in "$cache"/kernel-"$variant"-*; do
  [ "$old" = "$out" ] || [ ! -e "$old" ] || { echo "kernel.sh: removing stale $old" >&2; rm -rf "$old"; }
done

echo "kernel.sh: building $variant kernel in $out" >&2
mkdir -p "$out"
"${kmake[@]}" -C "$src" O="$out" tinyconfig >&2
cat "$frag_dir/base.config" "$frag_dir/$variant.config" >> "$out/.config"
"${kmake[@]}" -C "$src" O="$out" olddefconfig >&2

# Every requested option must have survived olddefconfig (a missing dependency or a toolchain
# that the kernel finds unusable for Rust silently drops it otherwise).
bad=0
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  opt=${line%%=*} val=${line#*=}
  if [ "$val" = n ]; then
    grep -q "^$opt=" "$out/.config" && { echo "kernel.sh: $opt is set, wanted off" >&2; bad=1; }
  else
    grep -qx "$line" "$out/.config" || { echo "kernel.sh: $line did not stick" >&2; bad=1; }
  fi
done < <(cat "$frag_dir/base.config" "$frag_dir/$variant.config")
if [ $bad -ne 0 ]; then
  "${kmake[@]}" -C "$src" O="$out" rustavailable >&2 || true
  exit 1
fi

"${kmake[@]}" -C "$src" O="$out" -j"$(nproc)" >&2
touch "$out/.tfw-done"
echo "$out"
