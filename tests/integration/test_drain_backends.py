#!/usr/bin/env python3
"""lbctl drain --wait in flow_state = "backends" (docs/flow-state.md,
issue 16 item 5): the LB host keeps no conntrack for the service's TCP,
so lbctl waits on the drained backend's own report of its connections
(lbd_backend_connections on its metrics endpoint, lbd in the backend
role, counted with sock_diag).

Held echo connections to a Geneve service in "backends" mode: the
backend's report equals the connections the client holds to it (from the
client's side) and what ss counts on the backend; drain --wait with a
short timeout fails while they are open; drain --wait prints the count
each second, goes down as connections end and returns within a bound
after the last one ends. lbctl explain of each held connection, before
and after the drain, names the slot's owner and previous owner that the
program's own packet goes to and carries in lbd's option.

The connections are ended on the backend (ss -K): once drained, the
backend's slots belong to the other backend, and without the companion's
second chance (another branch of issue 16) a client's FIN would reach the
new owner, not the backend that holds the connection. What this test
checks is the drain's wait, not the second chance.
"""
import json
import os
import re
import subprocess

from labtest import (BE4, LBCTL, Holder, Lab, Lbd, check, run, svc,
                     wait_until)

VIP = "203.0.113.10"


def backend_conf(lab, i):
    """The lab's backend config, its metrics on the backend's address so
    that the LB host can read them."""
    sock = os.path.join(lab.path, f"backend{i}.sock")
    return (lab.backend_conf(i) +
            f'control = {{ socket = "{sock}"; '
            f'metrics_listen = "{BE4[i - 1]}:9470"; }};\n')


def reported(lab, i, port):
    """backend i's lbd_backend_connections for its address and port, as
    read from the LB host."""
    r = lab.exec("lb1", ["curl", "-sf", f"http://{BE4[i - 1]}:9470/metrics"])
    m = re.search(r'^lbd_backend_connections\{vip="%s",port="%d"\} (\d+)$'
                  % (re.escape(BE4[i - 1]), port), r.stdout, re.M)
    check("# TYPE lbd_backend_connections gauge" in r.stdout,
          f"backend{i}'s metrics have no lbd_backend_connections")
    return int(m.group(1)) if m else 0


def ss_established(lab, i, port):
    """What ss counts on backend i: established sockets of port."""
    r = lab.exec(f"backend{i}", ["ss", "-Htn", "state", "established",
                                 "sport", "=", f":{port}"])
    return [l.split() for l in r.stdout.splitlines() if l.strip()]


def clients(lab, i, port):
    """The client ports of backend i's established connections of port."""
    return [int(row[-1].rsplit(":", 1)[1])
            for row in ss_established(lab, i, port)]


def explain(lab, cport):
    r = lab.exec("lb1", [LBCTL, "-s", lab.ctl_sock(), "--json", "explain",
                         f"192.0.2.2:{cport}", f"{VIP}:7/tcp"])
    return json.loads(r.stdout)


def check_explain(lab, cport, owner, prev):
    """explain of a held connection: no conntrack consulted, the slot's
    owner is where the program's packet goes, and the previous owner the
    table names is the one lbd's option in that packet names."""
    e = explain(lab, cport)
    o = e.get("option", {})
    check(e["flow_state"] == "backends" and e["stateless"] and
          not e["conntrack"]["consulted"] and e["why"] == "maglev" and
          e["encap"] == "geneve" and e["outer_destination"] == owner and
          e["maglev"]["backend"] == f"{owner}:7007" and
          e["maglev"]["previous_owner"] == (prev and f"{prev}:7007") and
          o.get("predicted") and o.get("previous_owner") == prev and
          (o.get("previous_port") == 7007 if prev else
           o.get("flags") == 0),
          f"explain of {cport} (owner {owner}, previous {prev}): {e}")


def kill_conns(lab, i, port, n):
    """Ends n of backend i's connections of port on the backend (RST to
    the client, the socket gone at once)."""
    for row in ss_established(lab, i, port)[:n]:
        peer_port = row[-1].rsplit(":", 1)[1]
        lab.exec(f"backend{i}", ["ss", "-K", "-tn", "state", "established",
                                 "sport", "=", f":{port}", "dport", "=",
                                 f":{peer_port}"])


def test():
    with Lab("drainbe", backends=2) as lab:
        lab.start_backends(companion=False)
        for i in (1, 2):
            Lbd(lab, f"backend{i}", backend_conf(lab, i)).start()
        services = svc("echo", VIP, 7, [(a, 7007) for a in BE4[:2]],
                       fwd="geneve", extra='flow_state = "backends"; ')
        lb = Lbd(lab, "lb1", lab.lb_conf(services,
                                         extra="flow_report_port = 9470;") +
                 lab.control_conf())
        lb.start()
        ctl = [LBCTL, "-s", lab.ctl_sock()]

        holder = Holder(lab, VIP, 7)
        check(holder.open(30)["opened"] == 30, "30 held connections")
        answers = holder.ping()
        check(set(answers) == {"backend1", "backend2"}, f"spread: {answers}")
        on1 = answers.count("backend1")
        # the backend's report: what the client holds, and what ss sees
        check(reported(lab, 1, 7007) == on1 == len(ss_established(lab, 1,
                                                                   7007)),
              f"backend1 reports {reported(lab, 1, 7007)}, the client holds "
              f"{on1}, ss counts {len(ss_established(lab, 1, 7007))}")
        check(reported(lab, 2, 7007) == 30 - on1, "backend2's report")

        # explain: each held connection's slot names the backend that
        # holds it, and no previous owner yet
        on = {i: clients(lab, i, 7007) for i in (1, 2)}
        for i in (1, 2):
            for cport in on[i]:
                check_explain(lab, cport, BE4[i - 1], None)

        # a timeout while the connections stay: failure, and why
        r = lab.exec("lb1", [*ctl, "drain", BE4[0], "--wait", "--timeout",
                             "2"], check=False, timeout=30)
        check(r.returncode == 1 and
              "connections still on the backend after 2 s" in r.stderr and
              f"{on1} connections left on {BE4[0]} (reported by the "
              f"backend)" in r.stdout, f"drain --wait --timeout 2: "
              f"{r.returncode}\n{r.stdout}{r.stderr}")

        # drained: backend1's slots belong to backend2 now, which the
        # option names backend1 to, as the previous owner
        for cport in on[1]:
            check_explain(lab, cport, BE4[1], BE4[0])
        for cport in on[2]:
            check_explain(lab, cport, BE4[1], None)

        out = os.path.join(lab.path, "wait.out")
        p = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("lb1"), *ctl, "drain", BE4[0],
             "--wait", "--timeout", "120"],
            stdout=open(out, "w"), stderr=subprocess.STDOUT)
        lab.procs.append(p)
        wait_until(lambda: f"{on1} connections left on {BE4[0]}"
                   in open(out).read(), 10, "drain --wait's first report")
        gone = on1 // 2
        kill_conns(lab, 1, 7007, gone)
        wait_until(lambda: f"{on1 - gone} connections left on {BE4[0]}"
                   in open(out).read(), 10, "the count going down")
        check(p.poll() is None, "drain --wait returned while connections "
                                f"were open:\n{open(out).read()}")
        kill_conns(lab, 1, 7007, on1)
        wait_until(lambda: p.poll() is not None, 10,
                   "drain --wait after the last connection ended")
        text = open(out).read()
        check(p.returncode == 0 and "no connections left on the backend" in
              text, f"drain --wait: {p.returncode}\n{text}")
        check(reported(lab, 1, 7007) == 0, "backend1's report after")
        # the other backend's connections were not touched
        check(reported(lab, 2, 7007) == 30 - on1, "backend2's report after")
        print(f"drain --wait: {on1} connections on {BE4[0]}, reported by "
              f"the backend; waited through {on1 - gone}, returned at 0")
        holder.p.stdin.close()
        holder.p.wait(timeout=10)


if __name__ == "__main__":
    run(test)
