#!/usr/bin/env python3
"""A small Kubernetes API server for lbd's tests: Services and EndpointSlices.

It behaves as kube-apiserver does for these two resources, as the API
concepts page documents it (kubernetes.io/docs/reference/using-api/
api-concepts/):

- list: GET /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices
  (and their /namespaces/NS/ forms), with labelSelector ("key" or
  "key=value"), limit and continue ("Retrieving large results sets in
  chunks": every page is of the list's resourceVersion; a continue token
  older than the compacted history is 410 Gone, reason Expired), and
  metadata.resourceVersion on the list.
- watch: ?watch=1&resourceVersion=RV ("Efficient detection of changes"):
  newline-delimited JSON events {"type": ADDED|MODIFIED|DELETED|BOOKMARK|
  ERROR, "object": ...} over chunked transfer encoding, from the events
  after RV; an RV older than the history is answered as the watch cache
  answers it: 200, then an ERROR event whose object is a Status with code
  410 and reason "Expired", then the end of the stream. Without RV (or
  "0") the watch starts with a synthetic ADDED for every object.
  allowWatchBookmarks=true gets BOOKMARK events (an object of the kind
  with only metadata.resourceVersion) when told to send them.
  timeoutSeconds ends the watch cleanly.
- authentication: a bearer token, or a client certificate signed by the
  cluster CA; otherwise 401 with a Status. HTTPS only.
- spec.healthCheckNodePort, as the Service API documents it: a
  LoadBalancer Service with externalTrafficPolicy Local that has none is
  given one, allocated from the NodePort range (30000-32767) among the
  ports no Service holds (as nodePort or healthCheckNodePort); one that
  is given must be in the range and free; it cannot change while the
  Service needs it, is kept when an update leaves it out, and is wiped
  when an update makes the Service no longer need it; set on a Service
  that does not need it, the Service is refused. A refused put answers
  {"ok": false, "error": "spec.healthCheckNodePort: ..."}; a put
  answers the object as stored.

It is driven on stdin, one JSON command a line, each answered with one
JSON line on stdout: put (create or replace an object), delete, generate
(N Services with M endpoints each), compact (forget the history: older
resourceVersions are gone), drop (cut every watch without ending it
cleanly), stop/start (the listener goes away and comes back on the same
port, as a restarted API server), bookmark, flood, stats, quit.

flood makes the server hostile, for a resource, until flood again with
"what": null: "watch_line" answers every watch with one event that
never ends (its envelope grows without bound), "watch_object" with an
event whose object never ends, "list_page" every list with a page whose
items never end (each a valid object of 16 KiB). It streams until the
client goes away; stats says how many bytes it flooded.

  fakeapi.py --dir DIR --listen ADDR:PORT [--make-certs]

--make-certs makes DIR/ca.crt, server and client (CN lbd) certificates
with openssl, a token, and two kubeconfigs: DIR/kubeconfig-cert (inline
-data) and DIR/kubeconfig-token (certificate-authority and tokenFile as
files relative to it). The first line on stdout is {"ready": PORT}.
"""
import argparse
import base64
import copy
import http.server
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

KINDS = {
    "services": ("Service", "v1", "ServiceList"),
    "endpointslices": ("EndpointSlice", "discovery.k8s.io/v1",
                       "EndpointSliceList"),
}
RESOURCE_OF_KIND = {v[0]: k for k, v in KINDS.items()}
TOKEN = "lbd-test-token-5f1c"
NODE_PORTS = range(30000, 32768)  # the API server's default range


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}


class Store:
    """Objects, a global resourceVersion and the event history."""

    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 100
        self.objs = {r: {} for r in KINDS}
        self.history = []  # (rv, resource, type, object)
        self.compacted = 0  # watches from an RV below this are gone
        self.watchers = set()
        self.snapshots = {}  # continue token id -> (rv, items)
        self.stats = {"lists": {r: 0 for r in KINDS},
                      "watches": {r: 0 for r in KINDS},
                      "gone": 0, "unauthorized": 0, "flooded_bytes": 0,
                      "floods": 0}
        self.flood = {}  # resource -> what (see flood in the docstring)

    def _event(self, resource, etype, obj):
        self.history.append((self.rv, resource, etype, obj))
        for w in list(self.watchers):
            w.push(resource, etype, obj)

    def _ports_held(self, key):
        """The node ports of every Service but key's."""
        held = set()
        for k, o in self.objs["services"].items():
            if k == key:
                continue
            spec = o.get("spec") or {}
            held.update(p.get("nodePort") for p in spec.get("ports") or ())
            held.add(spec.get("healthCheckNodePort"))
        return held

    def _health_check_port(self, obj, key):
        """spec.healthCheckNodePort of a Service put (see the
        docstring); raises ValueError for one the API server refuses."""
        def needs(o):
            spec = (o or {}).get("spec") or {}
            return (spec.get("type") == "LoadBalancer" and
                    spec.get("externalTrafficPolicy") == "Local")
        spec = obj.setdefault("spec", {})
        old = self.objs["services"].get(key)
        old_port = ((old or {}).get("spec") or {}).get("healthCheckNodePort")
        given = spec.get("healthCheckNodePort")
        field = "spec.healthCheckNodePort"
        if not needs(obj):
            if given and not (old and given == old_port):
                raise ValueError(
                    f"{field}: Forbidden: may only be set when `type` is "
                    "'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
            spec.pop("healthCheckNodePort", None)  # wiped
            return
        if needs(old) and old_port:
            if given and given != old_port:
                raise ValueError(f"{field}: Invalid value: {given}: field "
                                 "is immutable")
            spec["healthCheckNodePort"] = old_port
            return
        held = self._ports_held(key)
        if given:
            if given not in NODE_PORTS:
                raise ValueError(
                    f"{field}: Invalid value: {given}: provided port is "
                    "not in the valid range. The range of valid ports is "
                    f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
            if given in held:
                raise ValueError(f"{field}: Invalid value: {given}: "
                                 "provided port is already allocated")
            return
        free = [p for p in NODE_PORTS if p not in held]
        if not free:
            raise ValueError(f"{field}: range of valid ports is full")
        spec["healthCheckNodePort"] = random.choice(free)

    def put(self, obj):
        resource = RESOURCE_OF_KIND[obj["kind"]]
        md = obj.setdefault("metadata", {})
        md.setdefault("namespace", "default")
        key = (md["namespace"], md["name"])
        with self.lock:
            if resource == "services":
                self._health_check_port(obj, key)
            self.rv += 1
            md["resourceVersion"] = str(self.rv)
            old = self.objs[resource].get(key)
            etype = "MODIFIED" if old is not None else "ADDED"
            # set by the server when an object is created, kept on
            # update (ObjectMeta); RFC 3339 in UTC, to the second
            if old is not None and "creationTimestamp" in old["metadata"]:
                md["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            else:
                md["creationTimestamp"] = time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.objs[resource][key] = obj
            self._event(resource, etype, obj)
            return self.rv

    def delete(self, kind, ns, name):
        resource = RESOURCE_OF_KIND[kind]
        with self.lock:
            obj = self.objs[resource].pop((ns, name), None)
            if obj is None:
                return None
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._event(resource, "DELETED", obj)
            return self.rv

    def compact(self):
        with self.lock:
            self.history = []
            self.compacted = self.rv
            self.snapshots = {}
            return self.rv


def selected(obj, selector, ns):
    md = obj["metadata"]
    if ns and md.get("namespace") != ns:
        return False
    for term in filter(None, (selector or "").split(",")):
        labels = md.get("labels") or {}
        if "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term not in labels:
            return False
    return True


class Watcher:
    def __init__(self, store, resource, ns, selector, bookmarks):
        self.store, self.resource = store, resource
        self.ns, self.selector, self.bookmarks = ns, selector, bookmarks
        self.queue = []
        self.cut = False

    def push(self, resource, etype, obj):
        # called with the store's lock held
        if etype == "BOOKMARK":
            if self.bookmarks and resource == self.resource:
                self.queue.append({"type": "BOOKMARK", "object": obj})
            return
        if resource == self.resource and selected(obj, self.selector,
                                                  self.ns):
            self.queue.append({"type": etype, "object": obj})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authenticated(self):
        auth = self.headers.get("Authorization", "")
        if auth == f"Bearer {TOKEN}":
            return True
        cert = self.connection.getpeercert()
        if cert:
            cn = dict(x[0] for x in cert.get("subject", ()))
            return cn.get("commonName") == "lbd"
        return False

    def do_GET(self):
        store = self.server.store
        if not self.authenticated():
            with store.lock:
                store.stats["unauthorized"] += 1
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        parts = u.path.strip("/").split("/")
        # api/v1[/namespaces/NS]/services,
        # apis/discovery.k8s.io/v1[/namespaces/NS]/endpointslices
        prefix = 2 if parts[:2] == ["api", "v1"] else \
            3 if parts[:3] == ["apis", "discovery.k8s.io", "v1"] else 0
        rest = parts[prefix:] if prefix else []
        ns = None
        if len(rest) == 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        resource = rest[0] if len(rest) == 1 else None
        if resource not in KINDS or (resource == "services") != (prefix == 2):
            self.send_json(404, status(404, "NotFound",
                                       f"the server could not find the "
                                       f"requested resource ({u.path})"))
            return
        with store.lock:
            flood = store.flood.get(resource)
        watch = q.get("watch") in ("1", "true")
        if flood and (flood == "list_page") != watch:
            self.flood(resource, flood)
        elif watch:
            self.watch(resource, ns, q)
        else:
            self.list(resource, ns, q)

    def list(self, resource, ns, q):
        store = self.server.store
        kind, api, list_kind = KINDS[resource]
        limit = int(q.get("limit") or 0)
        with store.lock:
            store.stats["lists"][resource] += 1
            if q.get("continue"):
                try:
                    tok = json.loads(base64.b64decode(q["continue"]))
                    rv, items = store.snapshots[tok["id"]]
                    start = tok["start"]
                except (ValueError, KeyError):
                    store.stats["gone"] += 1
                    self.send_json(410, status(
                        410, "Expired", "The provided continue parameter "
                        "is too old to display a consistent list result. "
                        "You can start a new list without the continue "
                        "parameter."))
                    return
            else:
                rv = store.rv
                items = [copy.deepcopy(o) for k, o in
                         sorted(store.objs[resource].items())
                         if selected(o, q.get("labelSelector"), ns)]
                start = 0
            md = {"resourceVersion": str(rv)}
            page = items[start:start + limit] if limit else items[start:]
            if limit and start + limit < len(items):
                tid = f"{rv}-{len(store.snapshots)}"
                store.snapshots[tid] = (rv, items)
                md["continue"] = base64.b64encode(json.dumps(
                    {"id": tid, "start": start + limit}).encode()).decode()
                md["remainingItemCount"] = len(items) - start - limit
        for o in page:
            o.setdefault("kind", kind)
            o.setdefault("apiVersion", api)
        self.send_json(200, {"kind": list_kind, "apiVersion": api,
                             "metadata": md, "items": page})

    def flood(self, resource, what):
        """A hostile answer: a body that never ends (see the module's
        docstring), streamed until the client goes away."""
        store = self.server.store
        kind, api, list_kind = KINDS[resource]
        with store.lock:
            store.stats["floods"] += 1
            rv = store.rv
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if what == "list_page":
            head = json.dumps({"kind": list_kind, "apiVersion": api,
                               "metadata": {"resourceVersion": str(rv)}})
            head = head[:-1] + ', "items": ['
        elif what == "watch_line":
            head = ('{"type": "ADDED", "object": {"kind": "%s", '
                    '"apiVersion": "%s", "metadata": {"name": "flood", '
                    '"namespace": "default"}}, "padding": "' % (kind, api))
        else:
            head = ('{"type": "ADDED", "object": {"kind": "%s", '
                    '"apiVersion": "%s", "metadata": {"name": "flood", '
                    '"namespace": "default", "annotations": {"padding": "'
                    % (kind, api))
        n = 0
        try:
            self.chunk(head.encode())
            while True:
                if what == "list_page":
                    # items of 16 KiB: the page's bytes grow faster than
                    # its count
                    block = ("".join(
                        '%s{"kind": "%s", "metadata": {"name": "f%d", '
                        '"namespace": "flood", "annotations": {"padding": '
                        '"%s"}}}' % ("," if n + i else "", kind, n + i,
                                     "a" * 16384)
                        for i in range(4))).encode()
                    n += 4
                else:
                    block = b"a" * 65536
                self.chunk(block)
                with store.lock:
                    store.stats["flooded_bytes"] += len(block)
                    if store.flood.get(resource) != what:
                        break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, resource, ns, q):
        store = self.server.store
        rv = q.get("resourceVersion") or "0"
        timeout = float(q.get("timeoutSeconds") or 1800)
        w = Watcher(store, resource, ns, q.get("labelSelector"),
                    q.get("allowWatchBookmarks") == "true")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        with store.lock:
            store.stats["watches"][resource] += 1
            if rv == "0":
                for o in sorted(store.objs[resource].items()):
                    w.push(resource, "ADDED", o[1])
            elif int(rv) < store.compacted:
                store.stats["gone"] += 1
                w.queue.append({"type": "ERROR", "object": status(
                    410, "Expired",
                    f"too old resource version: {rv} "
                    f"({store.compacted})")})
                w.cut = "end"
            else:
                for erv, res, etype, obj in store.history:
                    if erv > int(rv):
                        w.push(res, etype, obj)
            store.watchers.add(w)
            self.server.handlers.add(self)
        deadline = time.monotonic() + timeout
        try:
            while True:
                with store.lock:
                    while not w.queue and not w.cut and \
                            time.monotonic() < deadline:
                        store.lock.wait(min(1.0, max(
                            0.01, deadline - time.monotonic())))
                    events, w.queue = w.queue, []
                    cut = w.cut
                for e in events:
                    self.chunk(json.dumps(e).encode() + b"\n")
                if cut == "drop":
                    # no terminating chunk: the client sees a broken
                    # transfer, as when a server dies mid-stream
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if cut or time.monotonic() >= deadline:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
        except OSError:
            self.close_connection = True
        finally:
            with store.lock:
                store.watchers.discard(w)
                self.server.handlers.discard(self)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, store, ctx):
        super().__init__(addr, Handler)
        self.store = store
        self.handlers = set()
        self.socket = ctx.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-handshake or mid-stream


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def make_certs(d, host):
    os.makedirs(d, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out",
       f"{d}/ca.crt", "-days", "2", "-subj", "/CN=fake-kubernetes-ca")
    for name, cn, ext in (
            ("server", "kube-apiserver",
             f"subjectAltName=IP:{host},IP:127.0.0.1\n"
             "extendedKeyUsage=serverAuth\n"),
            ("client", "lbd", "extendedKeyUsage=clientAuth\n")):
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext)
        sh("openssl", "req", *ec, "-keyout", f"{d}/{name}.key", "-out",
           f"{d}/{name}.csr", "-subj", f"/O=lbd/CN={cn}")
        sh("openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA",
           f"{d}/ca.crt", "-CAkey", f"{d}/ca.key", "-CAcreateserial",
           "-out", f"{d}/{name}.crt", "-days", "2", "-extfile",
           f"{d}/{name}.ext")
    with open(f"{d}/token", "w") as f:
        f.write(TOKEN + "\n")


def b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfigs(d, server):
    with open(f"{d}/kubeconfig-cert", "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: lbd@fake
clusters:
- name: fake
  cluster:
    server: {server}
    certificate-authority-data: {b64(f"{d}/ca.crt")}
contexts:
- name: lbd@fake
  context: {{cluster: fake, user: lbd}}
users:
- name: lbd
  user:
    client-certificate-data: {b64(f"{d}/client.crt")}
    client-key-data: {b64(f"{d}/client.key")}
""")
    with open(f"{d}/kubeconfig-token", "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: sa
clusters:
- name: fake
  cluster:
    server: {server}
    certificate-authority: ca.crt
contexts:
- name: sa
  context:
    cluster: fake
    user: lbd-sa
users:
- name: lbd-sa
  user:
    tokenFile: token
""")


def generate(store, n, m, cls, first=0, with_endpoints=None):
    """n LoadBalancer Services of class cls, the first with_endpoints of
    them (default: all) with m endpoints each: VIPs from 198.18.128.0/17
    (the benchmarking range), port 80 -> 8080."""
    for i in range(first, first + n):
        vip = f"198.18.{128 + i // 250}.{1 + i % 250}"
        name = f"svc-{i:05d}"
        store.put({"kind": "Service", "apiVersion": "v1",
                   "metadata": {"name": name, "namespace": "bench"},
                   "spec": {"type": "LoadBalancer",
                            "loadBalancerClass": cls,
                            "ports": [{"name": "http", "port": 80,
                                       "protocol": "TCP",
                                       "targetPort": 8080}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": vip}]}}})
        if with_endpoints is not None and i - first >= with_endpoints:
            continue
        store.put(slice_of("bench", name, f"{name}-0", [
            f"198.19.{(i * m + j) // 250 % 250}.{1 + (i * m + j) % 250}"
            for j in range(m)]))


def slice_of(ns, service, name, addrs, port=8080, terminating=(),
             weight=None):
    md = {"name": name, "namespace": ns,
          "labels": {"kubernetes.io/service-name": service}}
    if weight is not None:
        md["annotations"] = {"lbd.io/weight": str(weight)}
    eps = []
    for a in addrs:
        t = a in terminating
        eps.append({"addresses": [a],
                    "conditions": {"ready": not t, "serving": True,
                                   "terminating": t}})
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": md, "addressType": "IPv6" if ":" in addrs[0]
            else "IPv4" if addrs else "IPv4",
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": eps}


class Control:
    def __init__(self, store, ctx, addr):
        self.store, self.ctx, self.addr = store, ctx, addr
        self.server = None

    def start(self):
        self.server = Server(self.addr, self.store, self.ctx)
        self.addr = self.server.server_address[:2]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def cut_watches(self, how):
        with self.store.lock:
            for w in self.store.watchers:
                w.cut = how
            self.store.lock.notify_all()

    def stop(self):
        self.cut_watches("drop")
        self.server.shutdown()
        self.server.server_close()
        # requests in flight die with their connections
        for h in list(self.server.handlers):
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server = None

    def run(self, cmd):
        s = self.store
        op = cmd["op"]
        if op == "put":
            try:
                rv = s.put(cmd["object"])
            except ValueError as e:  # refused, as the API server would
                return {"ok": False, "error": str(e)}
            with s.lock:
                s.lock.notify_all()
            return {"ok": True, "rv": rv, "object": cmd["object"]}
        elif op == "delete":
            rv = s.delete(cmd["kind"], cmd["namespace"], cmd["name"])
        elif op == "generate":
            generate(s, cmd["services"], cmd["endpoints"], cmd["class"],
                     cmd.get("first", 0), cmd.get("with_endpoints"))
            rv = s.rv
        elif op == "compact":
            rv = s.compact()
        elif op == "drop":
            self.cut_watches("drop")
            rv = s.rv
        elif op == "bookmark":
            with s.lock:
                for r, (kind, api, _) in KINDS.items():
                    for w in s.watchers:
                        w.push(r, "BOOKMARK", {
                            "kind": kind, "apiVersion": api,
                            "metadata": {"resourceVersion": str(s.rv)}})
                rv = s.rv
        elif op == "stop":
            self.stop()
            rv = s.rv
        elif op == "start":
            self.start()
            rv = s.rv
        elif op == "flood":
            with s.lock:
                if cmd.get("what"):
                    s.flood[cmd["resource"]] = cmd["what"]
                else:
                    s.flood.pop(cmd["resource"], None)
                rv = s.rv
        elif op == "stats":
            with s.lock:
                return {"ok": True, "rv": s.rv, "watchers": len(s.watchers),
                        **copy.deepcopy(s.stats)}
        else:
            return {"ok": False, "error": f"unknown op {op}"}
        with s.lock:
            s.lock.notify_all()
        return {"ok": True, "rv": rv}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--make-certs", action="store_true")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    if a.make_certs:
        make_certs(a.dir, host)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{a.dir}/server.crt", f"{a.dir}/server.key")
    ctx.load_verify_locations(f"{a.dir}/ca.crt")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    c = Control(Store(), ctx, (host, int(port)))
    c.start()
    if a.make_certs:
        write_kubeconfigs(a.dir, f"https://{host}:{c.addr[1]}")
    print(json.dumps({"ready": c.addr[1]}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            out = c.run(cmd)
        except Exception as e:  # a bad command is the test's bug: say it
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)
    if c.server:
        c.stop()


if __name__ == "__main__":
    main()
