"""Check harness shared by the Python end-to-end tests: check() records a
failure with its reason and goes on; finish() prints "N passed, N failed" and
returns the exit code."""
import sys

_count = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        _count["passed"] += 1
    else:
        _count["failed"] += 1
        print("FAIL:", what, flush=True)


def finish():
    print("%d passed, %d failed" % (_count["passed"], _count["failed"]))
    sys.stdout.flush()
    return 1 if _count["failed"] else 0
