#!/usr/bin/env python3
"""The shipped systemd units against the code (issue 14, item 15).

Each role runs with exactly its unit's capabilities, read from the unit
file now (CapabilityBoundingSet=, AmbientCapabilities=, NoNewPrivileges=),
through setpriv, with the unit's ExecStart command and a lab config in
place of /etc: lbd.service as lb1, lbd-backend.service as backend1. For
each: lbd gets ready, the io process (which drops to processes.user, lbd) stays up and
lbctl status answers, a metrics scrape answers, a reload through the
unit's ExecReload (lbctl reload, as root without capabilities) that
changes the control settings (the metrics port) is answered, restarts the
io process, which then serves the new port, and lbctl status answers
again. Before: under
lbd-backend.service the io process could not drop privileges and
respawned every second; under lbd.service the reload could not restart it
(no CAP_KILL).

Then `systemd-analyze verify` checks the units; it works without systemd
as PID 1 but wants ExecStart's binary to exist and the Documentation=
man pages to be installed: where /usr/sbin/lbd is not there (a build
tree), it checks a copy of the units with the build's binary in its
place and no man page check; against installed units (where lbd is
installed) it checks the units as they are.

The unit directory: the first argument, or LBD_UNIT_DIR, or packaging/
of the source tree; the binary: ExecStart's where it exists (installed
units), the build's otherwise.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

from labtest import (BE4, LBCTL, LBD, SOURCE, Lab, Lbd, TestFailure, check,
                     run, svc, wait_until)

UNIT_DIR = (sys.argv[1] if len(sys.argv) > 1 else
            os.environ.get("LBD_UNIT_DIR",
                           os.path.join(SOURCE, "packaging")))
GROUP = "nogroup"
VIP = "203.0.113.10"


def unit_service(path):
    """The [Service] settings of a unit: {key: [values in order]}."""
    out, section = {}, None
    with open(path) as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def caps(values):
    """A capability list setting, as systemd reads it: lists accumulate,
    an empty assignment resets. A "~" (inverted) list is not used by our
    units and not handled here."""
    s = []
    for v in values:
        if not v:
            s = []
            continue
        check(not v.startswith("~"), f"inverted capability list {v!r}")
        s += [c.lower().removeprefix("cap_") for c in v.split()]
    return sorted(set(s))


def unit_command(path, conf):
    """setpriv with the unit's capabilities, then ExecStart with the lab's
    config: the argv before "-c CONF" (Lbd.argv)."""
    u = unit_service(path)
    bound = caps(u.get("CapabilityBoundingSet", []))
    ambient = caps(u.get("AmbientCapabilities", []))
    check(bound, f"{path}: no CapabilityBoundingSet=")
    exec_start = [v for v in u["ExecStart"] if v][-1].lstrip("-@:+!")
    argv = shlex.split(exec_start)
    check("-c" in argv, f"{path}: ExecStart has no -c CONF: {exec_start}")
    i = argv.index("-c")
    argv = argv[:i] + argv[i + 2:]
    if not os.path.exists(argv[0]):
        argv[0] = LBD
    cmd = ["setpriv", "--bounding-set=-all," + ",".join(f"+{c}"
                                                       for c in bound),
           "--inh-caps=-all" + "".join(f",+{c}" for c in ambient)]
    if ambient:
        cmd.append("--ambient-caps=" + ",".join(f"+{c}" for c in ambient))
    if u.get("NoNewPrivileges", ["no"])[-1] in ("yes", "true", "1", "on"):
        cmd.append("--no-new-privs")
    mine = open("/proc/self/status").read()
    have = int(re.search(r"CapBnd:\s*(\w+)", mine).group(1), 16)
    missing = [c for c in bound if not have & (1 << cap_number(c))]
    if missing:
        print(f"note: this runner lacks {missing}, which {path} grants")
    return cmd + ["--"] + argv, bound


def reload_command(path, sock):
    """The unit's ExecReload, lbctl reload, run as root without
    capabilities of its own, against the lab's socket (the unit uses
    the default one), with the build's lbctl where it is not
    installed."""
    u = unit_service(path)
    argv = shlex.split([v for v in u["ExecReload"] if v][-1].lstrip("-@:+!"))
    check(os.path.basename(argv[0]) == "lbctl" and argv[-1] == "reload",
          f"{path}: ExecReload is not lbctl reload: {argv}")
    if not os.path.exists(argv[0]):
        argv[0] = LBCTL
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--",
            *argv[:-1], "-s", sock, "reload"]


def cap_number(name):
    r = subprocess.run(["capsh", f"--explain=cap_{name}"],
                       capture_output=True, text=True)
    m = re.search(r"\((\d+)\)", r.stdout)
    check(m, f"capsh does not know cap_{name}: {r.stdout}{r.stderr}")
    return int(m.group(1))


def status(lab, host, sock):
    r = lab.exec(host, [LBCTL, "-s", sock, "--json", "status"], check=False,
                 timeout=15)
    return json.loads(r.stdout) if r.returncode == 0 else None


def scrape(lab, host, port):
    r = lab.exec(host, ["curl", "-sS", "-m", "5", f"http://127.0.0.1:{port}"
                        "/metrics"], check=False, timeout=15)
    return r.stdout if r.returncode == 0 and "lbd_" in r.stdout else None


def control(sock, port):
    return (f'control = {{ socket = "{sock}"; group = "{GROUP}"; '
            f'metrics_listen = "127.0.0.1:{port}"; }};\n')


def check_role(lab, unit, host, conf_of):
    path = os.path.join(UNIT_DIR, unit)
    sock = os.path.join(lab.path, f"{host}.sock")
    lb = Lbd(lab, host, conf_of(control(sock, 9481)))
    lb.argv, bound = unit_command(path, lb.conf)
    lb.start()
    first = wait_until(lambda: status(lab, host, sock), 10,
                       f"{unit}: lbctl status")
    io = lb.io_pid()
    check(io, f"{unit}: no io process")
    check(scrape(lab, host, 9481), f"{unit}: no metrics at :9481")
    # the io process stays: one that cannot drop privileges exits and
    # is respawned every second
    check(status(lab, host, sock) and lb.io_pid() == io,
          f"{unit}: the io process did not stay:\n{lb.read_log()}")
    lb.write_conf(conf_of(control(sock, 9482)))
    # systemctl reload: the unit's ExecReload (lbctl reload, answered by
    # the io process that the reload then replaces)
    r = lab.exec(host, reload_command(path, sock), check=False, timeout=60)
    check(r.returncode == 0 and "applied in" in r.stdout,
          f"{unit}: ExecReload: {r.returncode} {r.stdout}{r.stderr}")
    wait_until(lambda: scrape(lab, host, 9482), 15,
               f"{unit}: metrics at the reloaded port 9482 (the io "
               f"process restarted)")
    after = wait_until(lambda: status(lab, host, sock), 10,
                       f"{unit}: lbctl status after the reload")
    check(lb.io_pid() not in (None, io), f"{unit}: the io process was not "
                                        f"restarted")
    check(after["control"]["metrics_listen"] == "127.0.0.1:9482",
          f"{unit}: {after['control']}")
    log = lb.read_log()
    check("dropping privileges" not in log, f"{unit}: {log}")
    lb.stop()
    print(f"{unit}: ran with {' '.join(bound)}; lbctl status "
          f"({first['role']} role), metrics, a reload restarting the io "
          f"process: fine")


def verify_units():
    units = [os.path.join(UNIT_DIR, u)
             for u in ("lbd.service", "lbd-backend.service")]
    args = []
    with tempfile.TemporaryDirectory() as tmp:
        u0 = unit_service(units[0])
        exe = shlex.split(u0["ExecStart"][-1])[0]
        ctl = shlex.split(u0["ExecReload"][-1])[0]
        if not os.path.exists(exe):
            # a build tree: the binary where the unit says it is, and
            # the man pages, are not installed
            copies = []
            for u in units:
                with open(u) as f:
                    text = f.read().replace(exe, LBD)
                    if not os.path.exists(ctl):
                        text = text.replace(ctl, LBCTL)
                copies.append(os.path.join(tmp, os.path.basename(u)))
                with open(copies[-1], "w") as f:
                    f.write(text)
            units, args = copies, ["--man=no"]
        r = subprocess.run(["systemd-analyze", "verify", *args, *units],
                           capture_output=True, text=True)
    check(r.returncode == 0 and not r.stderr.strip(),
          f"systemd-analyze verify: {r.returncode}\n{r.stdout}{r.stderr}")
    print(f"systemd-analyze verify {' '.join(args)}: clean")


def test():
    verify_units()
    with Lab("units", backends=1) as lab:
        lab.start_backends(vips=(VIP,), http=(80,), udp=(), echo=(),
                           companion=False)
        check_role(lab, "lbd.service", "lb1",
                   lambda ctl: lab.lb_conf(svc("web", VIP, 80,
                                               [(BE4[0], 80)])) + ctl)
        check_role(lab, "lbd-backend.service", "backend1",
                   lambda ctl: lab.backend_conf(1, (VIP,)) + ctl)


if __name__ == "__main__":
    run(test)
