#!/usr/bin/env python3
"""The lab itself: traffic crosses it, through the LB's XDP program, and
lab.sh down leaves nothing behind, also after an interrupted run and
after a lab.sh up that failed half-way."""
import os
import subprocess
import tempfile

from labtest import (BE4, LAB, Lab, Lbd, check, run, svc, wait_until)


def mounts_under(path):
    with open("/proc/mounts") as f:
        return [l.split()[1] for l in f if l.split()[1].startswith(path)]


def test():
    with Lab("lab") as lab:
        # routed across the router
        lab.exec("client", ["ping", "-c", "1", "-W", "2", BE4[1]])
        lab.exec("client", ["ping", "-6", "-c", "1", "-W", "2",
                            "2001:db8:1::12"])
        # through the LB's XDP program to a backend and straight back
        lab.start_backends()
        lb = Lbd(lab, "lb1", lab.lb_conf(svc("web", "203.0.113.10", 80, [
            (BE4[0], 80), (BE4[1], 80)]))).start()
        r = lab.client("http", "http://203.0.113.10/", "-n", "20")
        check(r["ok"] == 20, f"20 requests through the VIP: {r}")

        # an interrupted run: lbd killed with its maps pinned, and a
        # namespace the lab does not know (from a run with more backends)
        lb.kill9()
        pins = os.listdir(lab.pin_path("lb1"))
        check("lbd_ct4" in pins, f"lbd pinned its maps: {pins}")
        subprocess.run(["ip", "netns", "add", lab.ns("backend7")], check=True)
        path, prefix, env = lab.path, lab.prefix, lab.env
    # (the with block ran lab.sh down)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    check(prefix + "-" not in left, f"namespaces left: {left}")
    check(not mounts_under(path), f"mounts left: {mounts_under(path)}")
    check(not os.path.exists(path), f"{path} left")
    # down again is harmless
    subprocess.run([LAB, "down"], env=env, check=True)

    # "up" failing half-way (no XDP object where the build should be,
    # after the namespaces are made): the with block never starts, and
    # what up made is gone
    failed = Lab("labfail")
    with tempfile.TemporaryDirectory() as empty:
        failed.env["LBD_BUILD"] = empty
        try:
            with failed:
                check(False, "lab.sh up worked without a build")
        except subprocess.CalledProcessError:
            pass
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    check(failed.prefix + "-" not in left,
          f"namespaces left by a failed up: {left}")


if __name__ == "__main__":
    run(test)
