#!/usr/bin/env python3
"""lbd's children (issue 15, item 3): with lbd running in role lb with
health checks, each child (the io process, the prober)

- runs as processes.user (lbd): every uid and gid of /proc/PID/status,
  its groups those of the user and no other, no_new_privs;
- holds exactly the capabilities of its spec, effective and permitted
  (io none, the prober CAP_NET_RAW), none ambient;
- is lbd itself started in child mode, not a fork image of the parent:
  /proc/PID/exe is the lbd binary, the command line "lbd --child NAME",
  and its address space a fresh one (its heap and lbd's text mapped
  elsewhere than the parent's: a fork would have them where the parent
  does);

and lbd survives and respawns a child that is killed (SIGKILL: a new pid,
lbctl answers again, the prober's restarts counted) or that sends a
malformed message (bytes written into the child's end of its channel,
taken with pidfd_getfd: lbd logs why, kills it and starts another, and
keeps serving). lbd --check names processes.user when the user is
missing."""
import ctypes
import os
import pwd
import re
import signal
import subprocess
import tempfile

from labtest import (BE4, LBD, Lab, Lbd, TestFailure, check, run, svc,
                     wait_until)

USER = "lbd"
CAP_NET_RAW = 13
SPEC_CAPS = {"lbd-io": 0, "lbd-prober": 1 << CAP_NET_RAW}
ARGV = {"lbd-io": "io", "lbd-prober": "prober"}
SYS_PIDFD_GETFD = 438
# a respawn is 100 ms after the first death (backoff); bounded well above
RESPAWN_BOUND = 10


def children(lbd_pid):
    """{comm: pid} of lbd's children."""
    out = {}
    with open(f"/proc/{lbd_pid}/task/{lbd_pid}/children") as f:
        for c in f.read().split():
            try:
                with open(f"/proc/{c}/comm") as g:
                    out[g.read().strip()] = int(c)
            # a child that exits between the list and its comm: gone
            # (ENOENT) or a zombie being reaped (ESRCH)
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f
                    if ":\t" in line)


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def mapping_start(pid, what):
    """The start address of the first mapping of what ("[heap]" or a
    file's path) in pid's address space, None without one."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == what:
                return int(parts[0].split("-")[0], 16)
    return None


def check_child(comm, pid, lbd_pid, exe):
    pw = pwd.getpwnam(USER)
    st = status(pid)
    uids = st["Uid"].split()
    gids = st["Gid"].split()
    check(uids == [str(pw.pw_uid)] * 4, f"{comm}: uids {uids}, want "
          f"{pw.pw_uid}")
    check(gids == [str(pw.pw_gid)] * 4, f"{comm}: gids {gids}, want "
          f"{pw.pw_gid}")
    groups = sorted(int(g) for g in st["Groups"].split())
    want_groups = sorted(set(os.getgrouplist(USER, pw.pw_gid)))
    check(groups == want_groups, f"{comm}: groups {groups}, want "
          f"{want_groups}")
    want = SPEC_CAPS[comm]
    for k in ("CapEff", "CapPrm"):
        check(int(st[k], 16) == want,
              f"{comm}: {k} {st[k]}, want {want:#x}")
    check(int(st["CapAmb"], 16) == 0, f"{comm}: CapAmb {st['CapAmb']}")
    check(int(st["CapInh"], 16) == 0, f"{comm}: CapInh {st['CapInh']}")
    check(st["NoNewPrivs"].strip() == "1", f"{comm}: no_new_privs")
    check(int(st["PPid"]) == lbd_pid, f"{comm}: parent {st['PPid']}")
    # lbd itself, in child mode
    check(os.path.realpath(f"/proc/{pid}/exe") == exe,
          f"{comm}: exe {os.readlink(f'/proc/{pid}/exe')}")
    argv = cmdline(pid)
    check(argv[:3] == ["lbd", "--child", ARGV[comm]],
          f"{comm}: command line {argv}")
    check(cmdline(lbd_pid)[:3] != argv[:3],
          f"lbd's own command line {cmdline(lbd_pid)}")
    # a fresh exec: the binary and the heap are mapped where this
    # process's own randomisation put them, not where the parent's are
    # (a fork keeps every mapping of the parent at its address)
    for what in (exe, "[heap]"):
        mine = mapping_start(pid, what)
        theirs = mapping_start(lbd_pid, what)
        check(mine is not None and theirs is not None,
              f"{comm}: {what} mapped in both ({mine}, {theirs})")
        check(mine != theirs, f"{comm}: {what} at the parent's address "
              f"{theirs:#x}: a fork image, not an exec")


def status_ok(lab):
    try:
        return lab.lbctl(1, "status")
    except (subprocess.CalledProcessError, TestFailure, ValueError):
        return None


def respawned(lab, lb, comm, old):
    """Waits (bounded) for a child comm other than old, and lbctl status
    answering; returns the new pid."""
    def new():
        pid = children(lb.proc.pid).get(comm)
        return pid if pid and pid != old else None
    pid = wait_until(new, RESPAWN_BOUND, f"a new {comm}", strict=True)
    wait_until(lambda: status_ok(lab), RESPAWN_BOUND,
               f"lbctl status after {comm} was respawned", strict=True)
    return pid


def inject(pid, data):
    """Writes data into fd 3 of pid (its channel to lbd) as the child
    would: the fd is taken with pidfd_getfd(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, 3, 0)
        if fd < 0:
            raise TestFailure("pidfd_getfd: "
                              + os.strerror(ctypes.get_errno()))
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    finally:
        os.close(pidfd)


def check_missing_user(lab):
    conf = lab.write("nouser.conf", lab.lb_conf(
        svc("web", "203.0.113.10", 80, [(BE4[0], 80)]),
        top='processes = { user = "lbd-no-such-user"; };'))
    r = subprocess.run([LBD, "--check", "-c", conf], capture_output=True,
                       text=True)
    check(r.returncode != 0 and "processes.user" in r.stderr and
          "lbd-no-such-user" in r.stderr,
          f"lbd --check without the user: {r.returncode} {r.stderr!r}")


def test():
    with Lab("privsep", backends=1) as lab:
        lab.start_backends(companion=False)
        health = ('health = { type = "http"; interval = 0.5; '
                  'timeout = 0.4; rise = 1; fall = 1; via = "address"; };')
        conf = lab.lb_conf(svc("web", "203.0.113.10", 80, [(BE4[0], 80)],
                               extra=health), top=lab.control_conf())
        lb = Lbd(lab, "lb1", conf).start()
        exe = os.path.realpath(LBD)
        kids = wait_until(
            lambda: (lambda c: c if set(SPEC_CAPS) <= set(c) else None)(
                children(lb.proc.pid)),
            RESPAWN_BOUND, "lbd's children", strict=True)
        for comm in SPEC_CAPS:
            check_child(comm, kids[comm], lb.proc.pid, exe)
        wait_until(lambda: lab.backends_health() == {
            ("web", f"{BE4[0]}:80"): "up"}, 10, "the check up")

        # killed: respawned, and counted (the prober's, in status)
        restarts = status_ok(lab)["health"]["prober_restarts"]
        for comm in SPEC_CAPS:
            old = kids[comm]
            os.kill(old, signal.SIGKILL)
            kids[comm] = respawned(lab, lb, comm, old)
            check_child(comm, kids[comm], lb.proc.pid, exe)
        st = status_ok(lab)
        check(st["health"]["prober_restarts"] == restarts + 1,
              f"prober restarts {st['health']} (before: {restarts})")
        check(st["health"]["prober_pid"] == kids["lbd-prober"],
              f"prober pid {st['health']}")
        check(re.search(r"the io process \(pid \d+\) was killed by "
                        r"signal 9", lb.read_log()),
              "the io process's death logged")

        # a malformed message: an unknown type (0xffff), and a verdict
        # that is not a whole number of records
        bad = {"lbd-io": (0xffff).to_bytes(2, "little") + b"\0\0"
               + (0).to_bytes(4, "little"),
               "lbd-prober": (11).to_bytes(2, "little") + b"\0\0"
               + (5).to_bytes(4, "little") + b"xxxxx"}
        for comm in SPEC_CAPS:
            old = kids[comm]
            inject(old, bad[comm])
            kids[comm] = respawned(lab, lb, comm, old)
            log = lb.read_log()
            check(f"the {ARGV[comm]} process (pid {old}) sent a malformed "
                  "message: killing it" in log,
                  f"{comm}: the cause logged:\n{log[-2000:]}")
            check(lb.proc.poll() is None, "lbd still runs")
        # and the checks run again in the new prober
        wait_until(lambda: lab.backends_health() == {
            ("web", f"{BE4[0]}:80"): "up"}, 10, "the check up again")
        check_missing_user(lab)


if __name__ == "__main__":
    run(test)
