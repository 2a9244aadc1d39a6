#!/usr/bin/env python3
"""Entry point of the VM integration tests: `run_vm.py MODULE.ko [TEST_NAME...]`.

Runs inside the guest (scripts/vm.sh boots it); imports every tests/test_*.py in file order.
"""
import glob
import importlib
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

if len(sys.argv) < 2:
    sys.exit("usage: run_vm.py MODULE.ko [TEST...]")
os.environ["TFW_MODULE"] = os.path.abspath(sys.argv[1])

import vmtest  # noqa: E402

vmtest.MODULE = os.environ["TFW_MODULE"]
for path in sorted(glob.glob(os.path.join(here, "test_*.py"))):
    importlib.import_module(os.path.basename(path)[:-3])

sys.exit(vmtest.run(set(sys.argv[2:])))
