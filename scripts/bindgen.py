#!/usr/bin/env python3
"""Run bindgen over the module's own header with the kernel's own flags.

    bindgen.py KOBJ HEADER OUT

`kernel::bindings` in Linux 6.12 has `struct sock` opaque and lacks much of the networking API,
so the module generates its own bindings. The clang flags and the bindgen options must be the
kernel's, or the layouts would not match: they are read from the command the kernel build
recorded for its own bindings (rust/bindings/.bindings_generated.rs.cmd in the build tree).
The header lists what to generate in comments of the form `// bindgen: --allowlist-... NAME`.
"""
import os
import re
import shlex
import subprocess
import sys


def main():
    kobj, header, out = sys.argv[1:4]
    header = os.path.abspath(header)
    out = os.path.abspath(out)
    with open(os.path.join(kobj, "rust/bindings/.bindings_generated.rs.cmd")) as f:
        line = f.readline()
    cmd = line.split(":=", 1)[1]
    cmd = cmd.split(";", 1)[0]  # a sed command follows the bindgen command
    words = shlex.split(cmd)
    sep = words.index("--")
    bg_opts, clang = words[2:sep], words[sep + 1 :]  # words[0:2] = bindgen, kernel header

    opts = []
    skip = False
    for w in bg_opts:
        if skip:
            skip = False
            continue
        if w == "-o":
            skip = True
            continue
        opts.append(w)

    keep = []
    for w in clang:
        if w.startswith("-Wp,-MMD") or w.startswith("-DKBUILD_") or w.startswith("-D__KBUILD_MODNAME"):
            continue
        keep.append(w)
    keep += ['-DKBUILD_MODNAME="tempesta_fw"', "-D__KBUILD_MODNAME=kmod_tempesta_fw", "-DMODULE"]

    allow = []
    with open(header) as f:
        for l in f:
            m = re.match(r"\s*//\s*bindgen:\s*(.*)$", l)
            if m:
                allow += shlex.split(m.group(1))

    argv = ["bindgen", header] + opts + allow + ["-o", out + ".tmp", "--"] + keep
    r = subprocess.run(argv, cwd=kobj)
    if r.returncode != 0:
        sys.exit(r.returncode)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
