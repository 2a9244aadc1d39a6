#!/usr/bin/env python3
"""A small test harness for the integration tests that run inside the VM.

Tests are plain functions registered with @test; they run in order, in one boot, and each is
followed by a check of the kernel log: any BUG, WARNING, KASAN, lockdep or kmemleak report that
appeared during the test fails it (kmemleak scans after each file's last test: a leak report
fails that test and names a test of its file). The run ends with `N passed, N failed`. Standard library
only: the guest runs the host's python3 from the shared root file system.
"""
import os
import re
import subprocess
import sys
import time
import traceback

MODULE = os.environ.get("TFW_MODULE", "")
TMP = "/tmp/tfw-tests"

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


class Fail(Exception):
    pass


def sh(cmd, check=True, timeout=120):
    """Runs a shell command; returns (rc, stdout+stderr)."""
    p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, text=True, errors="replace")
    if check and p.returncode != 0:
        raise Fail(f"`{cmd}` exited {p.returncode}: {p.stdout.strip()}")
    return p.returncode, p.stdout


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


# Kernel reports that fail a test. The module's own messages are prefixed "tempesta_fw:" and
# never match these.
BAD = re.compile(
    r"BUG[: ]|WARNING:|KASAN|kmemleak: .*suspected memory leak|possible circular locking|"
    r"possible recursive locking|inconsistent lock state|lock held when returning|"
    r"sleeping function called from invalid context|scheduling while atomic|"
    r"Call Trace|Oops|general protection fault|UBSAN|Kernel panic|rcu_.*stall|"
    r"refcount_t:|list_(add|del) corruption|stack-protector"
)


def dmesg():
    return sh("dmesg", check=False)[1]


class KernelLog:
    """Tracks the kernel log from a point on, read from /dev/kmsg (no `dmesg` process per
    look: under emulation each costs a second, and some tests look a hundred times). Lines
    read like dmesg's: `[seconds] message`."""

    def __init__(self):
        self.lines = []
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def __del__(self):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None

    def new(self):
        while self.fd is not None:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except BrokenPipeError:  # records overwritten before they were read
                self.lines.append("[kernel log records were overwritten]")
                continue
            head, _, text = rec.partition(";")
            fields = head.split(",")
            ts = int(fields[2]) / 1e6 if len(fields) > 2 and fields[2].isdigit() else 0.0
            # Continuation lines (" KEY=value") carry metadata, not text.
            # /dev/kmsg escapes unprintable bytes and backslashes as \xNN; dmesg shows them.
            msg = re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)),
                         text.split("\n")[0])
            self.lines.append(f"[{ts:12.6f}] {msg}")
        return "\n".join(self.lines)


KMEMLEAK = "/sys/kernel/debug/kmemleak"


def kmemleak_scan():
    """Scans for leaks (reports appear in dmesg). Objects younger than 5 s are not reported
    yet, which is why the final check waits before its scan."""
    if os.path.exists(KMEMLEAK):
        with open(KMEMLEAK, "w") as f:
            f.write("scan")


def setup():
    os.makedirs(TMP, exist_ok=True)
    sh("ip link set lo up", check=False)
    if not os.path.exists(KMEMLEAK):
        sh("mount -t debugfs none /sys/kernel/debug", check=False)
    if os.path.exists(KMEMLEAK):
        # Boot-time false positives are not ours: forget them.
        kmemleak_scan()
        with open(KMEMLEAK, "w") as f:
            f.write("clear")
        # No automatic scans: one takes ~15 s under emulation and would land inside a test.
        with open(KMEMLEAK, "w") as f:
            f.write("scan=off")


def _final_leak_check():
    """kmemleak only reports objects older than 5 s, so the scan after the last test cannot
    see that test's leaks: wait, scan again and look at everything it still lists."""
    time.sleep(6)
    kmemleak_scan()
    if os.path.exists(KMEMLEAK):
        with open(KMEMLEAK) as f:
            leaks = f.read()
        expect(not leaks.strip(), f"kmemleak lists unreferenced objects:\n{leaks[:4000]}")


def run(selected):
    setup()
    passed = failed = 0
    tests = [t for t in _tests if not selected or t.__name__ in selected]
    _final_leak_check.__name__ = "final_kmemleak_check"
    tests.append(_final_leak_check)
    for i, t in enumerate(tests):
        name = t.__name__
        log = KernelLog()
        t0 = time.monotonic()
        err = None
        try:
            t()
        except Exception as e:  # noqa: BLE001 - report every failure the same way
            err = f"{type(e).__name__}: {e}"
            if not isinstance(e, Fail):
                err += "\n" + traceback.format_exc()
        finally:
            cleanup()
        # A leak scan costs ~15 s under emulation: one after each test file's last test (its
        # report names any test of the file; the final check sees what is left).
        nxt = tests[i + 1] if i + 1 < len(tests) else None
        if nxt is not None and nxt.__module__ != t.__module__:
            kmemleak_scan()
        new = log.new()
        bad = [l for l in new.splitlines() if BAD.search(l)]
        if bad:
            err = (err + "\n" if err else "") + "kernel log reports:\n  " + "\n  ".join(bad[:40])
        dt = time.monotonic() - t0
        if err:
            failed += 1
            print(f"FAIL {name} ({dt:.1f}s)\n  {err}\n  --- kernel log of the test ---\n{new}\n",
                  flush=True)
        else:
            passed += 1
            print(f"ok   {name} ({dt:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


_cleanups = []


def at_cleanup(fn):
    _cleanups.append(fn)


def cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            print(f"  cleanup: {e}", flush=True)
