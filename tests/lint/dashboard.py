#!/usr/bin/env python3
"""The Grafana dashboard (packaging/grafana-lbd.json) against the code.

Every metric name in its queries (panel targets and template variables)
is a family lbd/ctl/metrics.c renders (the names are literals there, one
per family); every label a query groups by (by (...)) or selects on is
one that family's samples carry or Prometheus adds (instance, job); every
__inputs entry is used; panel ids are unique. A renamed metric or label,
or a panel for one that does not exist, fails here instead of showing
"No data".

usage: dashboard.py [DASHBOARD [METRICS_C]]
"""
import json
import os
import re
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    SRC, "packaging", "grafana-lbd.json")
METRICS_C = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    SRC, "lbd", "ctl", "metrics.c")
# what Prometheus adds, and what Grafana's template variables are
ADDED = {"instance", "job", "__name__"}


def sample_args(text):
    """The arguments of every sample(f, name, l1, v1, l2, v2, l3, v3,
    value) call, split at top-level commas."""
    for m in re.finditer(r"\bsample\(", text):
        i, depth, args, cur = m.end(), 1, [], ""
        while depth:
            c = text[i]
            if c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            if c == "," and depth == 1:
                args.append(cur.strip())
                cur = ""
            elif depth:
                cur += c
            i += 1
        args.append(cur.strip())
        yield args


def rendered(path):
    """The families metrics.c renders (their names are literals there)
    and the label names its samples carry (sample()'s third, fifth and
    seventh arguments)."""
    text = open(path).read()
    names = set(re.findall(r'"(lbd_[a-z0-9_]+)"', text))
    labels = set()
    for args in sample_args(text):
        for a in args[2:8:2]:
            if re.fullmatch(r'"[a-z_]+"', a):
                labels.add(a.strip('"'))
    return names, labels


def exprs(d):
    for p in d.get("panels", []):
        for t in p.get("targets", []):
            if "expr" in t:
                yield p.get("title", "?"), t["expr"]
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if isinstance(q, str) and "lbd_" in q:
            yield f"variable {v.get('name')}", q


def main():
    text = open(DASH).read()
    d = json.loads(text)
    names, labels = rendered(METRICS_C)
    bad = []
    for inp in d.get("__inputs", []):
        if "${%s}" % inp["name"] not in text:
            bad.append(f"__inputs {inp['name']}: not used")
    ids = [p["id"] for p in d.get("panels", [])]
    if len(ids) != len(set(ids)):
        bad.append(f"panel ids not unique: {sorted(ids)}")
    n = 0
    for where, e in exprs(d):
        for m in re.findall(r"\blbd_[a-z0-9_]+\b", e):
            n += 1
            if m not in names:
                bad.append(f"{where}: {m} is not a metric lbd renders")
        used = set()
        for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
            used |= {x.strip() for x in grp.split(",") if x.strip()}
        for sel in re.findall(r"\{([^}]*)\}", e):
            used |= set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", sel))
        for lab in used - ADDED - labels:
            bad.append(f"{where}: label {lab} is on no metric lbd renders")
    for b in bad:
        print(b)
    if not n:
        bad.append("no metric names found: the check checked nothing")
        print(bad[-1])
    print(f"{DASH}: {n} metric names, {len(ids)} panels"
          + (": fine" if not bad else f": {len(bad)} problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
