#!/usr/bin/env python3
"""The module's stack frames, from its disassembly: fails if any function reserves more than
LIMIT bytes. Kernel stacks are 16 KiB and the configuration path nests several frames under a
sysctl write; the debug kernel (KASAN) has 32 KiB stacks and does not notice. A Proxy built on
the stack (11 KiB frames) once made `make run` crash on the release kernel while every debug
test passed.

  stack_frames.py MODULE.ko [LIMIT]      (LIMIT default 6144)
"""
import re
import subprocess
import sys


def frames(ko):
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", ko], check=True,
                         capture_output=True, text=True).stdout
    fn, res = None, {}
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            fn = m.group(1)
            continue
        m = re.search(r"sub\s+\$0x([0-9a-f]+),%rsp", line)
        if m and fn:
            res[fn] = max(res.get(fn, 0), int(m.group(1), 16))
    return res


def main():
    ko = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 6144
    res = frames(ko)
    big = sorted(((v, f) for f, v in res.items() if v > limit), reverse=True)
    top = sorted(((v, f) for f, v in res.items()), reverse=True)[:5]
    print("stack frames: largest " + ", ".join(f"{v} {f[:60]}" for v, f in top))
    if big:
        for v, f in big:
            print(f"stack frames: FAILED: {f} reserves {v} bytes (limit {limit})")
        sys.exit(1)
    print(f"stack frames: OK (limit {limit})")


if __name__ == "__main__":
    main()
