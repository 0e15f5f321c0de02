#!/usr/bin/env python3
"""The control socket during a long start (issue 18, item 2).

lbd starts with 10,000 services: its io process serves the control socket
before the first apply, and lbctl status answers "starting" with the
apply's progress ("n of 10000 services") instead of "no such file"; any
other command is refused with the same progress rather than left
waiting; once lbd is ready, status is the running daemon's. Before: the
socket appeared only after the apply.
"""
import json
import os
import re
import subprocess
import time

from labtest import (BE4, LBCTL, LBD, Lab, Notify, TestFailure, check, run,
                     svc, wait_until)

N = 10000


def config(lab, sock):
    svcs = [svc(f"s{i}", f"203.0.113.{10 + i // 50000}", 1 + i % 50000,
                [(BE4[0], 1 + i % 50000), (BE4[1], 1 + i % 50000)])
            for i in range(N)]
    conf = lab.lb_conf(",\n".join(svcs))
    conf = conf.replace("max_services = 1024;", f"max_services = {N};")
    conf = conf.replace("max_backends = 8192;",
                        f"max_backends = {4 * N};")
    return conf + f'control = {{ socket = "{sock}"; metrics_listen = "off"; }};\n'


def test():
    with Lab("ctlstart", backends=2) as lab:
        sock = os.path.join(lab.path, "lb1.sock")
        conf = lab.write("lb1.conf", config(lab, sock))
        npath = os.path.join(lab.path, "lb1.notify")
        notify = Notify(npath)
        log = os.path.join(lab.path, "lb1.log")
        lab.spawn("lb1", [LBD, "-c", conf], log=log,
                  env=dict(os.environ, NOTIFY_SOCKET=npath))
        ctl = ["ip", "netns", "exec", lab.ns("lb1"), LBCTL, "-s", sock]
        seen, refused, ready = [], None, False
        deadline = time.monotonic() + 300
        # as fast as lbctl answers, until lbd is ready: a bounded poll
        # of what an operator would see, not a wait for a time
        while time.monotonic() < deadline and not ready:
            ready = any("READY=1" in m for m in notify.poll())
            r = subprocess.run([*ctl, "status"], capture_output=True,
                               text=True, timeout=60)
            m = re.search(r"starting: applying the config, (\d+) of (\d+) "
                          r"services", r.stdout)
            if m:
                seen.append((int(m.group(1)), int(m.group(2))))
                if refused is None:
                    refused = subprocess.run([*ctl, "services"],
                                             capture_output=True, text=True,
                                             timeout=60)
        check(ready, "lbd did not get ready:\n" + open(log).read())
        check(seen, "lbctl status never said starting")
        check(all(t in (0, N) and 0 <= d <= t for d, t in seen),
              f"progress out of bounds: {seen[:5]} ... {seen[-5:]}")
        check(seen == sorted(seen), f"progress went back: {seen}")
        check(refused.returncode == 1 and "lbd is starting" in
              refused.stderr, f"services while starting: "
                              f"{refused.returncode} {refused.stderr}")
        print(f"status said starting {len(seen)} times, from {seen[0]} "
              f"to {seen[-1]}")
        st = wait_until(lambda: json.loads(subprocess.run(
            [*ctl, "--json", "status"], capture_output=True, text=True,
            timeout=60).stdout or "null"), 30, "status once ready")
        check(st.get("state") == "running" and st.get("services") == N,
              f"status after the start: {st.get('state')} "
              f"{st.get('services')}")
        notify.close()


if __name__ == "__main__":
    run(test)
