"""Operator actions on the module, as the tests perform them."""
import ctypes
import os
import socket

from vmtest import MODULE, TMP, Fail, at_cleanup, expect, sh

STATE = "/proc/sys/net/tempesta/state"


def loaded():
    return os.path.exists("/sys/module/tempesta_fw")


# init_module and delete_module called directly: an insmod or rmmod process costs about a
# second under emulation, and the tests load the module some 150 times.
_libc = ctypes.CDLL(None, use_errno=True)
SYS_FINIT_MODULE, SYS_DELETE_MODULE = 313, 176  # x86_64


def insmod(cfg=None, params=""):
    args = ((f"tfw_cfg_path={cfg}" if cfg else "") + (f" {params}" if params else "")).strip()
    fd = os.open(MODULE, os.O_RDONLY | os.O_CLOEXEC)
    try:
        rc = _libc.syscall(SYS_FINIT_MODULE, fd, args.encode(), 0)
    finally:
        os.close(fd)
    if rc != 0:
        raise Fail(f"insmod {MODULE} {args}: {os.strerror(ctypes.get_errno())}")
    at_cleanup(lambda: rmmod(check=False))


def rmmod(check=True):
    if loaded():
        rc = _libc.syscall(SYS_DELETE_MODULE, b"tempesta_fw", os.O_NONBLOCK)
        if rc != 0 and check:
            raise Fail(f"rmmod tempesta_fw: {os.strerror(ctypes.get_errno())}")


def write_cfg(text, name="tempesta_fw.conf"):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def ctl(cmd):
    """Writes net.tempesta.state with one write(2); returns (errno or 0, its message).

    `sysctl -w` is not used here because procps retries a failed write once from its stdio
    buffer, which runs (and logs) a failing start twice; tests count log lines per write."""
    fd = os.open(STATE, os.O_WRONLY)
    try:
        os.write(fd, (cmd + "\n").encode())
        return 0, ""
    except OSError as e:
        return e.errno, os.strerror(e.errno)
    finally:
        os.close(fd)


def sysctl_w(cmd):
    """Writes net.tempesta.state the way operators do; returns (rc, output of sysctl)."""
    return sh(f"sysctl -w net.tempesta.state={cmd}", check=False)


def start():
    rc, out = ctl("start")
    if rc != 0:
        raise Fail(f"start failed: {out.strip()}\n{sh('dmesg | tail -5', check=False)[1]}")


def stop():
    rc, out = ctl("stop")
    expect(rc == 0, f"stop failed: {out}")


def state():
    """The state as sysctl reads it (its file, read here: no process per look), checked
    against /proc/tempesta/state."""
    with open(STATE) as f:
        out = f.read()
    with open("/proc/tempesta/state") as f:
        proc = f.read().strip()
    expect(out.strip() == proc, f"sysctl says {out.strip()!r}, /proc/tempesta/state {proc!r}")
    return proc


def can_connect(host, port, timeout=3.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except (ConnectionRefusedError, socket.timeout, OSError):
        return False
    finally:
        s.close()


def listening_ports():
    """TCP ports in LISTEN state, from /proc/net/tcp and tcp6."""
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(f):
            continue
        for line in open(f).read().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports
