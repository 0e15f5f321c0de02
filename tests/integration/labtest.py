"""The integration tests' harness: the lab (tests/lab/lab.sh), lbd in it,
the backends' servers, traffic from the client, and clean-up on every exit.

A test is a script that does

    with Lab("name") as lab:
        ...

The lab is brought down when the block ends, however it ends (failure,
exception, SIGTERM from ctest's timeout). Waits are bounded conditions
(wait_until), never sleeps standing in for synchronisation.
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.environ.get(
    "LBD_SOURCE", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("LBD_BUILD", os.path.join(SOURCE, "build"))
LAB = os.path.join(SOURCE, "tests", "lab", "lab.sh")
LBD = os.path.join(BUILD, "bin", "lbd")
LBCTL = os.path.join(BUILD, "bin", "lbctl")
SERVER = os.path.join(SOURCE, "tests", "lab", "server.py")
CLIENT = os.path.join(SOURCE, "tests", "lab", "client.py")


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


# The least a wait for something that must happen is given: on a loaded
# 2-core machine (another lab beside, a build, a CPU hog) starting a
# Python server took more than 10 s and a reload's checks as long; a
# bound is there to end a test that hangs, not to time lbd. Waits that
# do time lbd (down within the fall window) say so with strict=True.
WAIT_FLOOR = float(os.environ.get("LAB_WAIT_FLOOR", "30"))


def ensure_lbd_user():
    """lbd's children run as processes.user, "lbd" by default: made here
    when missing, as tools/deps.sh and the Debian package make it."""
    if subprocess.run(["getent", "passwd", "lbd"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell",
                        "/usr/sbin/nologin", "lbd"], check=True)


ensure_lbd_user()


def wait_until(cond, timeout, what, interval=0.05, strict=False):
    """Polls cond() until it returns a true value, at most timeout s
    (WAIT_FLOOR at least, unless strict: the bound is what is tested)."""
    if not strict:
        timeout = max(timeout, WAIT_FLOOR)
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class Notify:
    """A NOTIFY_SOCKET, as systemd gives a Type=notify service: read all
    the time, as systemd does. Unread, it holds net.unix.max_dgram_qlen
    (10) datagrams, and then lbd blocks in sd_notify."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.closing.is_set():
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(m)

    def poll(self):
        with self.lock:
            return list(self.messages)

    def wait(self, needle, timeout, after=0):
        """Waits for a message (after the first `after` ones) holding
        needle; returns its index."""
        def found():
            for i, m in enumerate(self.poll()[after:], after):
                if needle in m.split("\n"):
                    return i + 1
            return None
        return wait_until(found, timeout, f"sd_notify {needle}") - 1

    def close(self):
        self.closing.set()
        self.reader.join()
        self.sock.close()


class Lbd:
    """One lbd process in a lab host, with its config and log."""

    def __init__(self, lab, host, conf, name=None):
        self.lab = lab
        self.host = host
        self.name = name or host
        self.conf = lab.write(f"{self.name}.conf", self.own_socket(conf))
        self.log = os.path.join(lab.path, f"{self.name}.log")
        self.proc = None
        self.notify = None
        # the command before the config: a wrapper (setpriv) and lbd
        self.argv = [LBD]

    def start(self, timeout=30, args=()):
        if self.notify:
            self.notify.close()
        npath = os.path.join(self.lab.path, f"{self.name}.notify")
        if os.path.exists(npath):
            os.unlink(npath)
        self.notify = Notify(npath)
        env = dict(os.environ, NOTIFY_SOCKET=npath)
        self.proc = self.lab.spawn(self.host, [*self.argv, "-c", self.conf,
                                               *args],
                                   log=self.log, env=env)
        try:
            self.notify.wait("READY=1", timeout)
        except TestFailure:
            raise TestFailure(f"lbd on {self.host} did not get ready:\n"
                              + self.read_log())
        return self

    def own_socket(self, conf):
        """conf, with a control socket in the lab's directory unless it
        names one: /run is shared by every namespace, and the default
        socket would be every lab's lbd's at once."""
        if re.search(r"^\s*control\s*=", conf, re.M):
            return conf
        sock = os.path.join(self.lab.path, f"{self.name}.sock")
        return conf + f'\ncontrol = {{ socket = "{sock}"; }};\n'

    def write_conf(self, conf):
        self.lab.write(f"{self.name}.conf", self.own_socket(conf))

    def reload(self, timeout=30):
        """SIGHUP, and waits until lbd says it is ready again."""
        n = len(self.notify.poll())
        self.proc.send_signal(signal.SIGHUP)
        return self.notify.wait("READY=1", timeout, after=n)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def io_pid(self):
        """The pid of this lbd's io process (a child named lbd-io), or
        None while it has none."""
        pid = self.proc.pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for c in f.read().split():
                try:
                    with open(f"/proc/{c}/comm") as g:
                        if g.read().strip() == "lbd-io":
                            return int(c)
                except FileNotFoundError:
                    pass
        return None


class Lab:
    """A lab of its own: the prefix makes it independent of other runs."""

    def __init__(self, name, backends=2, lbs=1, bgp=False):
        base = os.environ.get("LAB_PREFIX_BASE", "it")
        self.prefix = f"{base}-{name}"
        self.env = dict(os.environ, LAB_PREFIX=self.prefix,
                        LAB_BACKENDS=str(backends), LAB_LBS=str(lbs),
                        LAB_BGP="1" if bgp else "0", LBD_BUILD=BUILD)
        self.backends = backends
        self.lbs = lbs
        self.procs = []
        self.path = None

    def __enter__(self):
        signal.signal(signal.SIGTERM, _sigterm)
        subprocess.run([LAB, "down"], env=self.env, check=True)
        try:
            subprocess.run([LAB, "up"], env=self.env, check=True)
        except BaseException:
            # __exit__ does not run when __enter__ raises: what "up"
            # made before it failed goes here
            subprocess.run([LAB, "down"], env=self.env)
            raise
        self.path = subprocess.run([LAB, "path"], env=self.env, check=True,
                                   capture_output=True, text=True).stdout.strip()
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.post_mortem()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run([LAB, "down"], env=self.env)
        return False

    def post_mortem(self):
        """On a failure: what died, and the end of every log, so that a
        CI log alone says what happened."""
        for p in self.procs:
            if p.poll() is not None:
                print(f"exited {p.returncode}: {' '.join(map(str, p.args))}",
                      file=sys.stderr)
        for log in sorted(glob.glob(os.path.join(self.path or "", "*.log"))):
            with open(log, errors="replace") as f:
                tail = f.readlines()[-25:]
            print(f"--- {os.path.basename(log)} (last {len(tail)} lines)",
                  file=sys.stderr)
            sys.stderr.writelines(tail)

    def ns(self, host):
        return f"{self.prefix}-{host}"

    def write(self, name, text):
        path = os.path.join(self.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def pin_path(self, host):
        return os.path.join(self.path, "bpf", host)

    def exec(self, host, cmd, check=True, timeout=120, input=None):
        r = subprocess.run(["ip", "netns", "exec", self.ns(host), *cmd],
                           capture_output=True, text=True, timeout=timeout,
                           input=input)
        if check and r.returncode != 0:
            raise TestFailure(f"{host}: {' '.join(cmd)} failed "
                              f"({r.returncode}):\n{r.stdout}{r.stderr}")
        return r

    def spawn(self, host, cmd, log=None, env=None):
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(host), *cmd],
                             stdout=out, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    # -- the pieces most tests need ------------------------------------

    def lb_conf(self, services, lb=1, extra="", top=""):
        """An LB config for lbK with the given services text; extra goes
        into the datapath group, top after the services."""
        return f"""
datapath = {{
  interface = "eth0";
  encap_source_v4 = "198.18.0.{lb * 10}";
  encap_source_v6 = "2001:db8::{lb * 10}";
  maglev_table_size = 1021;
  conntrack_entries = 65536;
  max_services = 1024;
  max_backends = 8192;
  pin_path = "{self.pin_path(f'lb{lb}')}";
  {extra}
}};
services = (
{services}
);
{top}
"""

    def ctl_sock(self, lb=1):
        """lbK's control socket, the lab's own (not the host's default)."""
        return os.path.join(self.path, f"lb{lb}.sock")

    def control_conf(self, lb=1):
        return (f'control = {{ socket = "{self.ctl_sock(lb)}"; '
                f'metrics_listen = "off"; }};')

    def bgp_conf(self, lb=1, attrs=""):
        """lbK's bgp group: the BIRD lab.sh runs there (LAB_BGP=1)."""
        d = os.path.join(self.path, f"lb{lb}")
        return (f'bgp = {{ socket = "{d}/bird.ctl"; '
                f'file = "{d}/bird/vips.conf"; {attrs} }};')

    def lbctl(self, lb, *args):
        """lbctl --json against lbK's lbd."""
        r = self.exec(f"lb{lb}", [LBCTL, "-s", self.ctl_sock(lb), "--json",
                                  *args])
        return json.loads(r.stdout)

    def backends_health(self, lb=1):
        """{(service, backend): health} as lbctl backends shows it."""
        return {(b["service"], b["backend"]): b["health"]
                for b in self.lbctl(lb, "backends")["backends"]}

    def route(self, prefix, host="router"):
        """The next hops of host's kernel route to prefix: [] without."""
        six = ["-6"] if ":" in prefix else []
        r = self.exec(host, ["ip", *six, "-j", "route", "show", "exact",
                             prefix])
        routes = json.loads(r.stdout or "[]")
        if not routes:
            return []
        rt = routes[0]
        if "nexthops" in rt:
            return sorted(n["gateway"] for n in rt["nexthops"])
        return [rt["gateway"]] if "gateway" in rt else []

    def birdc(self, host, *cmd):
        """A birdc command to host's BIRD (LAB_BGP=1); its output."""
        sock = os.path.join(self.path, host, "bird.ctl")
        return self.exec(host, ["birdc", "-s", sock, *cmd]).stdout

    def bird(self, action, host):
        """lab.sh bird start|stop HOST."""
        subprocess.run([LAB, "bird", action, host], env=self.env, check=True)

    def backend_conf(self, i, vips=("203.0.113.10", "2001:db8:f::10"),
                     node_extra=""):
        """Backend i's config; node_extra goes into backend_node."""
        sources = ", ".join(f'"198.18.0.{k * 10}", "2001:db8::{k * 10}"'
                            for k in range(1, self.lbs + 1))
        v = ", ".join(f'"{x}"' for x in vips)
        return f"""
role = "backend";
backend_node = {{
  interface = "eth0";
  lb_sources = ({sources});
  vips = ({v});
  {node_extra}
}};
datapath = {{ pin_path = "{self.pin_path(f'backend{i}')}"; }};
"""

    def start_backends(self, vips=("203.0.113.10", "2001:db8:f::10"),
                       http=(80, 8080), udp=(30053, 30054), echo=(7, 7007),
                       companion=True, node_extra=""):
        """lbd (backend role) and the servers on every backend; the
        servers' processes in self.servers. node_extra: more settings
        of the backends' backend_node group."""
        self.backend_lbd = []
        self.servers = []
        self.server_args = []
        for i in range(1, self.backends + 1):
            if companion:
                self.backend_lbd.append(
                    Lbd(self, f"backend{i}",
                        self.backend_conf(i, vips, node_extra)).start())
            args = [sys.executable, SERVER, f"backend{i}"]
            for p in http:
                args += ["--http", str(p)]
            for p in udp:
                args += ["--udp", str(p)]
            for p in echo:
                args += ["--echo", str(p)]
            self.server_args.append(args)
            self.servers.append(self.start_server(i, args))

    def stop_server(self, i):
        """Stops backend i's server (1-based), as a crash would."""
        p = self.servers[i - 1]
        p.kill()
        p.wait(timeout=10)

    def restart_server(self, i):
        self.servers[i - 1] = self.start_server(i, self.server_args[i - 1])

    def start_server(self, i, args):
        """Starts server.py (args) on backend i; its process."""
        log = os.path.join(self.path, f"server{i}.log")
        ready = log + ".ready"
        if os.path.exists(ready):
            os.unlink(ready)
        # a file of its own, not a line of the log: the server serves
        # before it says ready, and health checks it answers first log
        # tracebacks (a prober's reset) into the same file
        p = self.spawn(f"backend{i}", [*args, "--ready-file", ready],
                       log=log)

        def up():
            if p.poll() is not None:
                raise TestFailure(f"server on backend{i} exited "
                                  f"({p.returncode}):\n" + open(log).read())
            return os.path.exists(ready)
        wait_until(up, 30, f"server on backend{i}")
        return p

    def client(self, *args, timeout=300):
        """Runs the traffic client in the client namespace; its JSON."""
        r = self.exec("client", [sys.executable, CLIENT, *args],
                      timeout=timeout)
        return json.loads(r.stdout)


def run(test):
    """Runs a test function, printing a clear verdict; exit status 0/1."""
    name = os.path.basename(sys.argv[0])
    try:
        test()
    except TestFailure as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"PASS {name}")


class ClientDriver:
    """A Python helper in the client namespace, driven a line at a time:
    a command line in, one JSON answer out."""

    def __init__(self, lab, script, args, name):
        self.name = name
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("client"), sys.executable, script,
             *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.procs.append(self.p)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out:
            raise TestFailure(f"{self.name} died on {line!r}")
        return json.loads(out)


class Holder(ClientDriver):
    """Long-lived echo connections from the client (client.py hold)."""

    def __init__(self, lab, addr, port):
        super().__init__(lab, CLIENT, ["hold", addr, str(port)], "holder")

    def open(self, n):
        return self.cmd(f"open {n}")

    def ping(self):
        return self.cmd("ping")["answers"]


def svc(name, vip, port, backends, proto="tcp", fwd="ipip", extra=""):
    """A service entry for lb_conf; backends: [(addr, port), ...]."""
    bl = ", ".join(f'{{ address = "{a}"; port = {p}; }}' for a, p in backends)
    return (f'  {{ name = "{name}"; vip = "{vip}"; port = {port}; '
            f'protocol = "{proto}"; forwarding = "{fwd}"; {extra}'
            f'backends = ( {bl} ); }}')


BE4 = ["198.18.1.11", "198.18.1.12", "198.18.1.13", "198.18.1.14"]
BE6 = ["2001:db8:1::11", "2001:db8:1::12", "2001:db8:1::13",
       "2001:db8:1::14"]


def reason_index(label):
    """Index of a drop/event reason by its label, from the one shared
    header that defines them (include/lbd/shared.h)."""
    import re
    with open(os.path.join(SOURCE, "include", "lbd", "shared.h")) as f:
        labels = re.findall(r'X\(LBD_\w+,\s*"(\w+)"', f.read())
    return labels.index(label)


def bpf_counter(lab, host, pinned, label):
    """A per-CPU reason counter from a pinned stats map, summed."""
    r = lab.exec(host, ["bpftool", "-j", "map", "lookup", "pinned", pinned,
                        "key", *str(reason_index(label)).split(), "0", "0",
                        "0"])
    d = json.loads(r.stdout)
    # struct lbd_counter: __u64 packets first, little-endian bytes
    return sum(int.from_bytes(bytes(int(b, 16) for b in v["value"][:8]),
                              "little") for v in d["values"])


def snmp(lab, host):
    """The kernel's /proc/net/snmp counters of a lab host, by name."""
    out = lab.exec(host, ["cat", "/proc/net/snmp"]).stdout.splitlines()
    counters = {}
    for names, values in zip(out[::2], out[1::2]):
        proto = names.split(":")[0]
        for n, v in zip(names.split()[1:], values.split()[1:]):
            counters[proto + n] = int(v)
    return counters
