# tempesta-rs. The README's two commands: `make run` and `make test`.
#
#   make            build tempesta_fw.ko against KDIR (default: the cached debug test kernel)
#   make kernel     build both test kernels (debug, release), cached outside the checkout
#   make run        boot the VM with the module started (CMD="..." runs one command and exits)
#   make test       host tests, module build, VM integration tests on the debug kernel, and
#                   `make run` on the release kernel serving a request
#   make bench      benchmarks (host crates; VM benchmarks on the release kernel)
#   make deps       install the build/test dependencies (idempotent)
#   make check      fmt + clippy on the host crates
#   make install    install the built module, tempesta.sh, the exporter, `tempesta-rs check`
#                   and the example configuration (DESTDIR=, PREFIX=/usr/local)
#   make dkms       install the module sources for DKMS (then: dkms install tempesta-rs/VERSION)
#
# KDIR=/lib/modules/$(uname -r)/build builds against a real kernel that has CONFIG_RUST.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

VARIANT ?= debug
KMAKEFLAGS ?= LLVM=1 RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc BINDGEN=bindgen
# Sources the module build needs, staged per kernel tree under build/ (an external module is
# built in place, so one copy per kernel keeps debug, release and host builds apart).
STAGE := Kbuild src scripts/bindgen.py parser/src config/src http/src cache/src sched/src tls/src \
	filter/src proxy/src

.PHONY: bench-parser bench-proxy bench-firewall bench-cache all module kernel deps run test test-host test-fuzz test-vm test-run bench check clean install dkms

all: module

deps:
	@scripts/deps.sh

kernel: deps
	scripts/kernel.sh debug
	scripts/kernel.sh release

# Resolve KDIR lazily (building the cached kernel if needed), then build in build/<tree>/.
module: deps
	@set -euo pipefail; \
	kdir="$${KDIR:-$$(scripts/kernel.sh $(VARIANT))}"; \
	bdir="build/$$(echo "$$kdir" | sed 's|.*/kernel-||; s|/|_|g')"; \
	mkdir -p "$$bdir"; \
	for p in $(STAGE); do mkdir -p "$$bdir/$$(dirname $$p)"; cp -a -u "$$p" "$$bdir/$$(dirname $$p)/"; done; \
	$(MAKE) --no-print-directory -C "$$kdir" M="$(CURDIR)/$$bdir" $(KMAKEFLAGS) modules; \
	ln -sf "$$bdir/tempesta_fw.ko" tempesta_fw.ko; \
	echo "module: $$bdir/tempesta_fw.ko (KDIR=$$kdir)"

run:
	@$(MAKE) --no-print-directory module VARIANT=$(or $(RUN_VARIANT),release)
	@scripts/vm.sh $(or $(RUN_VARIANT),release) run $(if $(CMD),--cmd "$(CMD)")

test-host: check
	cargo test --workspace --quiet

# A short fuzz run of the parser (split invariance, no panic); longer: parser/fuzz/run.sh 3600.
test-fuzz:
	parser/fuzz/run.sh $(or $(FUZZ_SECONDS),30)

# Packaging checks need the built module; then the VM suite.
test-vm:
	@$(MAKE) --no-print-directory module VARIANT=debug
	@tests/host/stack_frames.py tempesta_fw.ko
	@tests/host/install.sh
	@tests/host/dkms_build.sh
	@scripts/vm.sh debug test

# The README's first command on the release kernel (16 KiB stacks, no debug options): the
# module starts with etc/tempesta_fw.conf and serves the demo page.
test-run:
	@$(MAKE) --no-print-directory run CMD="$(CURDIR)/tests/host/run_smoke.sh"

test: deps
	@$(MAKE) --no-print-directory test-host
	@$(MAKE) --no-print-directory test-fuzz
	@$(MAKE) --no-print-directory test-vm
	@$(MAKE) --no-print-directory test-run

check:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# Parser against httparse, with the host's SIMD scanners and with the scalar code the kernel
# runs; instruction counts of a fixed workload where valgrind exists (see BENCHMARKS.md).
bench: deps bench-parser bench-proxy bench-firewall bench-cache

bench-parser:
	cargo bench -p tempesta-parser
	cargo bench -p tempesta-parser --no-default-features

# wrk against tempesta-rs, nginx proxy_pass and HAProxy in one release-kernel guest with one
# vCPU (CPU-bound under emulation: throughput differences are each proxy's CPU per request).
bench-proxy:
	@$(MAKE) --no-print-directory module VARIANT=release
	@TFW_VM_CPUS=1 scripts/vm.sh release run --cmd "$(CURDIR)/scripts/bench-proxy.sh"

# The firewall: legitimate requests/s under a request flood (against nginx limit_req), and the
# cost per dropped packet of ip_block against an nftables drop rule (same guest, one vCPU).
bench-firewall:
	@$(MAKE) --no-print-directory module VARIANT=release
	@TFW_VM_CPUS=1 scripts/vm.sh release run --cmd "$(CURDIR)/scripts/bench-firewall.sh"

# Cache hits: wrk on a cached 1 KiB and 64 KiB object through tempesta-rs, nginx proxy_cache
# and Varnish (same guest, one vCPU).
bench-cache:
	@$(MAKE) --no-print-directory module VARIANT=release
	@TFW_VM_CPUS=1 scripts/vm.sh release run --cmd "$(CURDIR)/scripts/bench-cache.sh"

# Installs what `make` built (build against the target kernel first:
# `make KDIR=/lib/modules/$(uname -r)/build`). The module goes to the kernel release it was built
# for (its vermagic), so `modprobe tempesta_fw` and tempesta.sh find it; an existing
# /etc/tempesta/tempesta_fw.conf is never overwritten.
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)

install:
	@set -euo pipefail; \
	[ -e tempesta_fw.ko ] || { echo "no tempesta_fw.ko: run make (KDIR=...) first" >&2; exit 1; }; \
	kver=$$(modinfo -F vermagic tempesta_fw.ko | cut -d' ' -f1); \
	install -D -m 0644 tempesta_fw.ko "$(DESTDIR)/lib/modules/$$kver/extra/tempesta_fw.ko"; \
	install -D -m 0755 scripts/tempesta.sh "$(DESTDIR)$(PREFIX)/sbin/tempesta.sh"; \
	install -D -m 0755 scripts/tempesta-exporter.py "$(DESTDIR)$(PREFIX)/sbin/tempesta-exporter"; \
	cargo build --quiet --release -p tempesta-config --bin tempesta-rs; \
	install -D -m 0755 target/release/tempesta-rs "$(DESTDIR)$(PREFIX)/bin/tempesta-rs"; \
	[ -e "$(DESTDIR)/etc/tempesta/tempesta_fw.conf" ] || \
	  install -D -m 0644 etc/tempesta_fw.conf "$(DESTDIR)/etc/tempesta/tempesta_fw.conf"; \
	if [ -z "$(DESTDIR)" ]; then depmod -a "$$kver"; \
	else depmod -b "$(DESTDIR)" "$$kver"; fi; \
	echo "installed tempesta_fw.ko for $$kver under $(or $(DESTDIR),/)"

# The module's sources where DKMS expects them; dkms.conf builds them against each installed
# kernel that has CONFIG_RUST (with the rustc and bindgen on root's PATH).
dkms:
	@set -euo pipefail; \
	dst="$(DESTDIR)/usr/src/tempesta-rs-$(VERSION)"; \
	mkdir -p "$$dst"; \
	for p in $(STAGE) dkms.conf; do mkdir -p "$$dst/$$(dirname $$p)"; cp -a "$$p" "$$dst/$$(dirname $$p)/"; done; \
	echo "sources in $$dst; now: dkms install tempesta-rs/$(VERSION)"

clean:
	rm -rf build tempesta_fw.ko
	cargo clean
