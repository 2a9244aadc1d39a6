"""Module lifecycle: load, start, stop, reconfigure, unload; bad configurations."""
import os
import socket
import time

from tfw import (can_connect, ctl, insmod, listening_ports, loaded, rmmod, start, state, stop,
                 sysctl_w, write_cfg)
from vmtest import Fail, KernelLog, at_cleanup, expect, test


@test
def load_does_not_start():
    insmod(write_cfg("listen 8080;\n"))
    expect(state() == "stop", "a freshly loaded module must be stopped")
    expect(8080 not in listening_ports(), "nothing may listen before start")
    rmmod()
    expect(not loaded(), "rmmod left the module loaded")


@test
def start_stop_listeners():
    cfg = write_cfg("# comment\nlisten 8080;\nlisten 127.0.0.1:8081;\nlisten [::1]:8082;\n")
    insmod(cfg)
    start()
    expect(state() == "start", f"state after start: {state()}")
    ports = listening_ports()
    expect({8080, 8081, 8082} <= ports, f"listening ports {sorted(ports)}")
    expect(can_connect("127.0.0.1", 8080), "cannot connect to 0.0.0.0:8080")
    expect(can_connect("127.0.0.1", 8081), "cannot connect to 127.0.0.1:8081")
    expect(can_connect("::1", 8082), "cannot connect to [::1]:8082")
    stop()
    expect(state() == "stop", "state after stop")
    expect(not ({8080, 8081, 8082} & listening_ports()), "listeners survived stop")
    expect(not can_connect("127.0.0.1", 8080), "connect after stop")
    stop()  # a second stop is a no-op
    expect(state() == "stop", "state after second stop")
    rmmod()


@test
def default_config_path():
    os.makedirs("/etc/tempesta", exist_ok=True)
    with open("/etc/tempesta/tempesta_fw.conf", "w") as f:
        f.write("listen 8085;\n")
    at_cleanup(lambda: os.remove("/etc/tempesta/tempesta_fw.conf"))
    insmod()
    start()
    expect(8085 in listening_ports(), "default /etc/tempesta/tempesta_fw.conf not used")
    rmmod()


@test
def rmmod_while_running():
    insmod(write_cfg("listen 8080;\nlisten [::]:8080;\n"))
    start()
    expect(can_connect("127.0.0.1", 8080) and can_connect("::1", 8080), "not listening")
    # Leave a connection in the accept queue: unloading must cope with it.
    s = socket.create_connection(("127.0.0.1", 8080))
    rmmod()
    s.close()
    expect(not loaded(), "module still loaded")
    expect(8080 not in listening_ports(), "listener survived rmmod")


@test
def unknown_command_rejected():
    insmod(write_cfg("listen 8080;\n"))
    log = KernelLog()
    rc, out = sysctl_w("restart")
    expect(rc != 0, "an unknown command must fail")
    expect("Invalid argument" in out, f"sysctl output: {out}")
    expect("unknown command 'restart'" in log.new(), f"log: {log.new()}")
    expect(state() == "stop", "state changed")


@test
def live_reconfiguration():
    cfg = write_cfg("listen 8080;\nlisten 8081;\n")
    insmod(cfg)
    start()
    held = socket.create_connection(("127.0.0.1", 8080))
    at_cleanup(held.close)
    write_cfg("listen 8080;\nlisten 8082;\n")
    start()
    expect(state() == "start", "state after reconfiguration")
    ports = listening_ports()
    expect(8080 in ports and 8082 in ports, f"new listeners missing: {sorted(ports)}")
    expect(8081 not in ports, "a removed listener is still open")
    # The kept listener is the same socket: the connection queued on it is still there.
    held.settimeout(0.5)
    try:
        data = held.recv(1)
        expect(data != b"", "the queued connection on a kept listener was closed")
    except socket.timeout:
        pass
    except ConnectionResetError:
        raise Fail("the queued connection on a kept listener was reset")
    # A broken configuration keeps the old one running.
    write_cfg("listen 8080;\nlisten 70000;\n")
    log = KernelLog()
    rc, _ = ctl("start")
    expect(rc != 0, "a bad reconfiguration must fail")
    expect(state() == "start (failed reconfig)", f"state: {state()}")
    expect({8080, 8082} <= listening_ports(), "a failed reconfiguration closed listeners")
    expect("reconfiguration failed" in log.new(), log.new())
    write_cfg("listen 8080;\n")
    start()
    expect(state() == "start", "a good reconfiguration clears the failure")
    expect(8082 not in listening_ports(), "removed listener still open")
    rmmod()


@test
def port_in_use():
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 8090))
    busy.listen(1)
    at_cleanup(busy.close)
    cfg = write_cfg("listen 8080;\nlisten 127.0.0.1:8090;\n")
    insmod(cfg)
    log = KernelLog()
    rc, out = ctl("start")
    expect(rc != 0, "start on a busy port must fail")
    expect("Address already in use" in out, f"sysctl output: {out}")
    line = f"config error: {cfg}:2: directive 'listen': cannot bind 127.0.0.1:8090: error -98"
    expect(line in log.new(), f"expected {line!r} in:\n{log.new()}")
    expect(state() == "stop", "state changed")
    expect(8080 not in listening_ports(), "a listener opened by the failed start is still open")


@test
def fifty_load_start_stop_unload_cycles():
    cfg = write_cfg("listen 8080;\nlisten [::1]:8081;\n")
    t0 = time.monotonic()
    for i in range(50):
        insmod(cfg)
        start()
        if i % 10 == 0:
            expect(can_connect("127.0.0.1", 8080), f"cycle {i}: not listening")
        stop()
        rmmod()
    print(f"  50 cycles in {time.monotonic() - t0:.1f}s")
