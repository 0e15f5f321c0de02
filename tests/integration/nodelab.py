"""Set-up and clean-up the node role's integration tests share: the
cgroup2 hierarchy their pods' processes (and lbd's socket programs) live
in."""
import os
import subprocess
import sys

from labtest import TestFailure, wait_until


def cgroup_mount(lab):
    """The cgroup2 hierarchy mounted in the lab's directory: `ip netns
    exec` mounts a fresh /sys, without the host's cgroup mounts, but the
    lab's directory is seen from every namespace."""
    at = os.path.join(lab.path, "cgroup2")
    os.makedirs(at, exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup2", "none", at], check=True)
    return at


def cgroup_remove(cg):
    """Kills what is left in the cgroup and removes it; a failure is
    printed, not raised, so that the rest of a clean-up still runs."""
    if not os.path.isdir(cg):
        return
    try:
        with open(os.path.join(cg, "cgroup.kill"), "w") as f:
            f.write("1")
        wait_until(lambda: not open(os.path.join(
            cg, "cgroup.procs")).read().strip(), 10,
            "the test cgroup to empty")
        os.rmdir(cg)
    except (OSError, TestFailure) as e:
        print(f"removing {cg}: {e}", file=sys.stderr)
