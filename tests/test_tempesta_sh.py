"""scripts/tempesta.sh: start, status, reload (good and bad), !include, stop."""
import os
import subprocess

from test_proxy import PORT, request, upstream, wait_servers_up
from tfw import listening_ports, loaded, rmmod, state
from vmtest import MODULE, TMP, at_cleanup, expect, test

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "scripts", "tempesta.sh")


def tsh(cmd, cfg):
    env = dict(os.environ, TFW_CFG_PATH=cfg, TFW_MODULE=MODULE, TFW_RUN_DIR=f"{TMP}/run")
    p = subprocess.run([SCRIPT, cmd], env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


@test
def tempesta_sh_lifecycle():
    upstream(8101)
    at_cleanup(lambda: rmmod(check=False))
    os.makedirs(f"{TMP}/sites", exist_ok=True)
    with open(f"{TMP}/sites/app.conf", "w") as f:
        f.write("server 127.0.0.1:8101 conns_n=2;\n")
    cfg = f"{TMP}/main.conf"
    with open(cfg, "w") as f:
        f.write(f"listen {PORT};\n!include {TMP}/sites/\n")

    rc, out = tsh("status", cfg)
    expect(rc == 3, f"status before start: {rc} {out}")
    rc, out = tsh("--start", cfg)
    expect(rc == 0, f"start: {rc} {out}")
    expect("sysctl net.core.somaxconn=131072" in out, f"tuning not reported: {out}")
    expect(state() == "start", "state after start")
    wait_servers_up()
    r, _ = request("GET", "/via-include")
    expect(r.status == 200, f"request through the included server: {r.status}")
    rc, out = tsh("status", cfg)
    expect(rc == 0 and "start" in out, f"status: {rc} {out}")

    # A good reload: a second listener.
    with open(cfg, "w") as f:
        f.write(f"listen {PORT};\nlisten {PORT + 1};\n!include {TMP}/sites/\n")
    rc, out = tsh("reload", cfg)
    expect(rc == 0, f"reload: {rc} {out}")
    expect(PORT + 1 in listening_ports(), "reload did not apply")

    # A bad reload keeps the old configuration, says why, and exits 1.
    with open(f"{TMP}/sites/app.conf", "w") as f:
        f.write("server 127.0.0.1:99999;\n")
    rc, out = tsh("--reload", cfg)
    expect(rc == 1, f"bad reload exit code: {rc} {out}")
    expect("config error" in out and "server" in out, f"bad reload message: {out}")
    expect(state() == "start (failed reconfig)", f"state after a bad reload: {state()}")
    expect({PORT, PORT + 1} <= listening_ports(), "a failed reload closed listeners")
    r, _ = request("GET", "/still")
    expect(r.status == 200, f"serving after a failed reload: {r.status}")

    rc, out = tsh("stop", cfg)
    expect(rc == 0 and not loaded(), f"stop: {rc} {out}")
    rc, out = tsh("status", cfg)
    expect(rc == 3, f"status after stop: {rc}")
    rc, out = tsh("frobnicate", cfg)
    expect(rc == 2, f"usage exit code: {rc}")


@test
def tempesta_sh_bad_start():
    at_cleanup(lambda: rmmod(check=False))
    cfg = f"{TMP}/bad.conf"
    with open(cfg, "w") as f:
        f.write("listen 8080;\nfrobnicate on;\n")
    rc, out = tsh("start", cfg)
    expect(rc == 1, f"bad start exit code: {rc} {out}")
    expect(f"{cfg}:2: directive 'frobnicate'" in out, f"bad start message: {out}")
    expect(not loaded(), "a failed start left the module loaded")
    os.remove(cfg)
    rc, out = tsh("start", cfg)
    expect(rc == 4, f"missing file exit code: {rc} {out}")
