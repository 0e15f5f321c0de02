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


# The pod of the tests with one: a namespace behind lb1's podveth0 (which
# matches their node_role.pod_interfaces "podveth*").
POD_IP, POD_GW, POD_NET = "198.18.5.2", "198.18.5.1", "198.18.5.0/24"
POD_IF = "podveth0"


def sh(*cmd):
    subprocess.run(cmd, check=True)


def pod_up(lab, pod_ns, routed):
    """The pod: its namespace, the veth pair, addresses and its default
    route via lb1; with routed, the router's route to it too (else only
    lb1 reaches it)."""
    lb1 = lab.ns("lb1")
    sh("ip", "netns", "add", pod_ns)
    sh("ip", "-n", lb1, "link", "add", POD_IF, "type", "veth", "peer",
       "name", "eth0", "netns", pod_ns)
    sh("ip", "-n", lb1, "addr", "add", f"{POD_GW}/24", "dev", POD_IF)
    sh("ip", "-n", lb1, "link", "set", POD_IF, "up")
    sh("ip", "-n", pod_ns, "addr", "add", f"{POD_IP}/24", "dev", "eth0")
    sh("ip", "-n", pod_ns, "link", "set", "lo", "up")
    sh("ip", "-n", pod_ns, "link", "set", "eth0", "up")
    sh("ip", "-n", pod_ns, "route", "add", "default", "via", POD_GW)
    # the pod's packets are forwarded from its interface: a Kubernetes
    # node forwards (lbd turns it on only on the NICs)
    sh("ip", "netns", "exec", lb1, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    if routed:
        sh("ip", "-n", lab.ns("router"), "route", "add", POD_NET, "via",
           "198.18.0.10")


def cleanup(cg, mnt, pod_ns):
    """Removes the test's cgroup (killing what is left in it), its mount
    and the pod's namespace (its veth pair goes with it)."""
    cgroup_remove(cg)
    subprocess.run(["umount", mnt])
    subprocess.run(["ip", "netns", "del", pod_ns], stderr=subprocess.DEVNULL)
