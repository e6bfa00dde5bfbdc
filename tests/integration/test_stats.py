"""The stats server (--stats, --stats-http): uWSGI's JSON layout, Prometheus
/metrics checked by a strict parser of the exposition format, /ready."""
import json
import math
import re
import signal
import socket
import threading
import time

import pytest

from conftest import TEST_PLUGIN_DIR, free_port, http_get, wait_until

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]

# A tiny WSGI app for the statuses the C++ test runtime never answers.
WSGI_APP = '''
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/missing":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"nope"]
    if path == "/error":
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''


# --- reading the stats server ---------------------------------------------

def read_raw(addr, timeout=5):
    """The whole answer of a plain (non-HTTP) stats server."""
    if isinstance(addr, int):
        s = socket.create_connection(("127.0.0.1", addr), timeout=timeout)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(addr))
    data = b""
    with s:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def stats_http(port, path="/", method="GET"):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        conn.close()


# --- uWSGI layout, with the types uwsgitop and dashboards read ---------------

TOP = {"version": str, "listen_queue": int, "listen_queue_errors": int, "load": int, "pid": int, "uid": int,
       "gid": int, "cwd": str, "locks": list, "sockets": list, "workers": list}
SOCKET = {"name": str, "proto": str, "queue": int, "max_queue": int, "shared": int, "can_offload": int}
WORKER = {"id": int, "pid": int, "accepting": int, "requests": int, "delta_requests": int, "exceptions": int,
          "harakiri_count": int, "signals": int, "signal_queue": int, "status": str, "rss": int, "vsz": int,
          "running_time": int, "last_spawn": int, "respawn_count": int, "tx": int, "avg_rt": int, "apps": list,
          "cores": list}
APP = {"id": int, "modifier1": int, "mountpoint": str, "startup_time": int, "requests": int, "exceptions": int}
CORE = {"id": int, "requests": int, "in_request": int, "static_requests": int, "routed_requests": int,
        "offloaded_requests": int, "write_errors": int, "read_errors": int, "vars": list, "req_info": dict}


def check_keys(obj, spec, where):
    assert isinstance(obj, dict), where
    for key, typ in spec.items():
        assert key in obj, f"{where}: missing {key!r}"
        value = obj[key]
        if typ is int:
            assert isinstance(value, int) and not isinstance(value, bool), f"{where}.{key}: {value!r} is not an int"
        else:
            assert isinstance(value, typ), f"{where}.{key}: {value!r} is not {typ.__name__}"


def check_layout(doc, workers):
    check_keys(doc, TOP, "stats")
    for i, s in enumerate(doc["sockets"]):
        check_keys(s, SOCKET, f"sockets[{i}]")
    assert len(doc["workers"]) == workers
    for i, w in enumerate(doc["workers"]):
        check_keys(w, WORKER, f"workers[{i}]")
        assert w["status"] in ("idle", "busy", "cheap", "pause")
        assert w["accepting"] in (0, 1)
        assert w["pid"] > 0 and w["rss"] > 0 and w["vsz"] >= w["rss"]
        assert abs(w["last_spawn"] - time.time()) < 600
        assert w["respawn_count"] >= 1
        for j, a in enumerate(w["apps"]):
            check_keys(a, APP, f"workers[{i}].apps[{j}]")
        assert w["cores"], "a worker has at least one core"
        for j, c in enumerate(w["cores"]):
            check_keys(c, CORE, f"workers[{i}].cores[{j}]")
            assert c["in_request"] in (0, 1)
        assert sum(c["requests"] for c in w["cores"]) == w["requests"]
    # What uwsgitop computes from it.
    assert sum(w["requests"] for w in doc["workers"]) >= 0
    assert sum(w["tx"] for w in doc["workers"]) >= 0


# --- a strict parser of the text exposition format (version 0.0.4) -----------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\\\|\\"|\\n)*"'
LABELS = rf"\{{(?:{LABEL_NAME}={LABEL_VALUE}(?:,{LABEL_NAME}={LABEL_VALUE})*,?)?\}}"
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)"
SAMPLE_RE = re.compile(rf"^({NAME})({LABELS})? ({VALUE})(?: (-?\d+))?$")
LABEL_RE = re.compile(rf"({LABEL_NAME})=({LABEL_VALUE})")


def parse_metrics(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}; raises on any deviation."""
    assert text.endswith("\n"), "the exposition ends with a newline"
    families = {}
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        assert line, f"line {n}: empty line"
        if line.startswith("#"):
            m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.*)$", line)
            if not m:
                assert not line.startswith("# HELP") and not line.startswith("# TYPE"), f"line {n}: {line!r}"
                continue
            kind, name, rest = m.groups()
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if kind == "TYPE":
                assert rest in ("counter", "gauge", "histogram", "summary", "untyped"), f"line {n}: type {rest}"
                assert fam["type"] is None and not fam["samples"], f"line {n}: TYPE after samples or twice"
                fam["type"] = rest
            else:
                assert fam["help"] is None, f"line {n}: HELP twice"
                fam["help"] = rest
            current = name
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"line {n}: not a sample: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        parsed = dict(LABEL_RE.findall(labels))
        parsed = {k: json.loads(v.replace("\\n", "\\u000a")) for k, v in parsed.items()}
        base = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in families \
                    and families[name[: -len(suffix)]]["type"] == "histogram":
                base = name[: -len(suffix)]
        assert base == current, f"line {n}: sample {name} outside its family {current}"
        v = float(value)
        families[base]["samples"].append((name, parsed, v))
    for name, fam in families.items():
        assert fam["type"] and fam["help"], f"{name}: HELP and TYPE required"
        assert name.startswith("trellis_"), name
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
        # Label sets are unique within a family.
        keys = [(s[0], tuple(sorted(s[1].items()))) for s in fam["samples"]]
        assert len(keys) == len(set(keys)), f"{name}: duplicate samples"
    return families


def check_histogram(name, samples):
    buckets = [(s[1]["le"], s[2]) for s in samples if s[0] == name + "_bucket"]
    count = [s[2] for s in samples if s[0] == name + "_count"]
    total = [s[2] for s in samples if s[0] == name + "_sum"]
    assert buckets and len(count) == 1 and len(total) == 1, name
    bounds = [math.inf if le == "+Inf" else float(le) for le, _ in buckets]
    assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{name}: le not increasing"
    assert bounds[-1] == math.inf, f"{name}: no +Inf bucket"
    values = [v for _, v in buckets]
    assert values == sorted(values), f"{name}: buckets not cumulative"
    assert values[-1] == count[0], f"{name}: +Inf {values[-1]} != count {count[0]}"
    assert total[0] >= 0


def value(families, name, **labels):
    fam_name = re.sub(r"_(bucket|sum|count)$", "", name) if name not in families else name
    for n, l, v in families[fam_name]["samples"]:
        if n == name and l == labels:
            return v
    raise KeyError((name, labels))


def metrics(port):
    status, ctype, body = stats_http(port, "/metrics")
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    return parse_metrics(body.decode("utf-8"))


# --- tests -------------------------------------------------------------------

def test_plain_stats_document_has_uwsgi_layout(server):
    port = free_port()
    s = server(*BASE, "--processes", "2", "--threads", "2", "--stats", f"127.0.0.1:{port}")
    for _ in range(5):
        assert http_get(s.port, "/bytes/100")[0] == 200
    doc = json.loads(read_raw(port))
    check_layout(doc, workers=2)
    assert doc["pid"] == s.proc.pid
    assert doc["sockets"][0]["name"] == f"127.0.0.1:{s.port}"
    assert doc["sockets"][0]["proto"] == "http"
    assert doc["sockets"][0]["max_queue"] > 0
    assert sorted(w["id"] for w in doc["workers"]) == [1, 2]
    assert sorted(w["pid"] for w in doc["workers"]) == sorted(s.workers())
    assert all(len(w["cores"]) == 2 for w in doc["workers"])
    doc = wait_until(lambda: (d := json.loads(read_raw(port))) and
                     sum(w["requests"] for w in d["workers"]) == 5 and d)
    assert sum(w["requests"] for w in doc["workers"]) == 5
    assert sum(w["tx"] for w in doc["workers"]) > 500
    assert all(w["status"] == "idle" and w["accepting"] == 1 for w in doc["workers"])
    busy = [w for w in doc["workers"] if w["requests"]]
    assert all(w["avg_rt"] > 0 and w["running_time"] > 0 for w in busy)


def test_stats_on_a_unix_socket(server, tmp_path):
    path = tmp_path / "stats.sock"
    s = server(*BASE, "--stats", str(path))
    assert http_get(s.port, "/")[0] == 200
    doc = json.loads(read_raw(path))
    check_layout(doc, workers=1)


def test_busy_worker_and_listen_queue(server):
    port = free_port()
    s = server(*BASE, "--processes", "1", "--stats", f"127.0.0.1:{port}")
    t = threading.Thread(target=lambda: http_get(s.port, "/sleep/1500"))
    t.start()

    def in_app():
        return json.loads(read_raw(port))["workers"][0]["cores"][0]["in_request"] == 1

    assert wait_until(in_app), "the slow request never reached the application"
    # The only worker is inside the application: these wait in the kernel's
    # accept queue (they send their first bytes: TCP_DEFER_ACCEPT holds
    # back connections that have sent nothing).
    waiting = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(3)]
    for c in waiting:
        c.sendall(b"GET / HTTP/1.1\r\n")
    try:
        # Once their bytes are in, the kernel queues them (the worker stays
        # busy for another second).
        doc = wait_until(lambda: (d := json.loads(read_raw(port))) and d["sockets"][0]["queue"] == 3 and d)
        assert doc, json.loads(read_raw(port))
        w = doc["workers"][0]
        assert w["status"] == "busy" and w["cores"][0]["in_request"] == 1
        assert doc["load"] == 1
        assert doc["sockets"][0]["queue"] == 3
        assert doc["listen_queue"] == 3
    finally:
        for c in waiting:
            c.close()
        t.join(10)


def test_stats_http_routes(server):
    port = free_port()
    s = server(*BASE, "--stats", f"127.0.0.1:{port}", "--stats-http")
    status, ctype, body = stats_http(port, "/")
    assert status == 200 and ctype == "application/json"
    check_layout(json.loads(body), workers=1)
    assert stats_http(port, "/ready")[:2] == (200, "text/plain")
    assert stats_http(port, "/nope")[0] == 404
    assert stats_http(port, "/", method="POST")[0] == 405
    status, _, body = stats_http(port, "/metrics", method="HEAD")
    assert status == 200 and body == b""
    fams = metrics(port)
    assert fams["trellis_request_duration_seconds"]["type"] == "histogram"
    assert value(fams, "trellis_ready") == 1
    # A client that connects and says nothing does not stall the master.
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        t0 = time.monotonic()
        assert stats_http(port, "/ready")[0] == 200
        assert http_get(s.port, "/")[0] == 200
        assert time.monotonic() - t0 < 1
    finally:
        idle.close()


def test_metrics_count_exactly(server, tmp_path):
    app = tmp_path / "status_app.py"
    app.write_text(WSGI_APP)
    port = free_port()
    s = server("--plugin", "python", "--plugin", "http", "--wsgi-file", str(app), "--processes", "2",
               "--stats", f"127.0.0.1:{port}", "--stats-http")
    for _ in range(17):
        assert http_get(s.port, "/")[0] == 200
    for _ in range(3):
        assert http_get(s.port, "/missing")[0] == 404
    for _ in range(2):
        assert http_get(s.port, "/error")[0] == 500
    fams = wait_until(lambda: (f := metrics(port)) and
                      value(f, "trellis_request_duration_seconds_count") == 22 and f)
    assert value(fams, "trellis_requests_total", status="2xx") == 17
    assert value(fams, "trellis_requests_total", status="4xx") == 3
    assert value(fams, "trellis_requests_total", status="5xx") == 2
    assert value(fams, "trellis_requests_total", status="1xx") == 0
    assert value(fams, "trellis_requests_total", status="3xx") == 0
    assert value(fams, "trellis_request_duration_seconds_count") == 22
    assert value(fams, "trellis_request_duration_seconds_bucket", le="+Inf") == 22
    assert value(fams, "trellis_request_duration_seconds_sum") > 0
    assert value(fams, "trellis_exceptions_total") == 2
    assert value(fams, "trellis_requests_in_flight") == 0
    assert value(fams, "trellis_workers", state="idle") == 2
    assert value(fams, "trellis_workers", state="busy") == 0
    assert value(fams, "trellis_worker_respawns_total") == 0
    assert value(fams, "trellis_harakiri_kills_total") == 0
    assert value(fams, "trellis_reload_generation") == 1
    assert value(fams, "trellis_listen_queue", socket=f"127.0.0.1:{s.port}") == 0
    doc = json.loads(stats_http(port, "/")[2])
    assert value(fams, "trellis_response_bytes_total") == sum(w["tx"] for w in doc["workers"])
    assert sum(w["requests"] for w in doc["workers"]) == 22
    assert sum(w["exceptions"] for w in doc["workers"]) == 2


def test_requests_the_protocol_refuses_are_counted_apart(server):
    # Malformed or oversized requests never reach the application: they are
    # not in trellis_requests_total, but an operator still sees them.
    port = free_port()
    s = server(*BASE, "--processes", "1", "--buffer-size", "2048", "--stats", f"127.0.0.1:{port}", "--stats-http")
    bad = [b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",            # 400
           b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 4096 + b"\r\n\r\n",  # 431
           b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"]                                 # 505
    for raw in bad:
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(raw)
            assert c.recv(100)[:9] == b"HTTP/1.1 "
    assert http_get(s.port, "/")[0] == 200
    fams = wait_until(lambda: (f := metrics(port)) and value(f, "trellis_refused_requests_total", status="5xx") == 1
                      and f)
    assert value(fams, "trellis_refused_requests_total", status="4xx") == 2
    assert value(fams, "trellis_refused_requests_total", status="5xx") == 1
    assert value(fams, "trellis_requests_total", status="2xx") == 1
    assert value(fams, "trellis_requests_total", status="4xx") == 0


def test_totals_survive_recycled_workers_and_harakiri(server):
    port = free_port()
    s = server(*BASE, "--processes", "1", "--max-requests", "5", "--harakiri", "1",
               "--stats", f"127.0.0.1:{port}", "--stats-http")
    done = 0
    while done < 12:
        try:
            assert http_get(s.port, "/")[0] == 200
            done += 1
        except OSError:
            time.sleep(0.05)  # between a recycled worker and its successor
    fams = wait_until(lambda: (f := metrics(port)) and value(f, "trellis_requests_total", status="2xx") == 12 and f)
    assert value(fams, "trellis_requests_total", status="2xx") == 12
    assert wait_until(lambda: value(metrics(port), "trellis_worker_respawns_total") >= 2)
    with pytest.raises(Exception):
        http_get(s.port, "/sleep/5000", timeout=10)
    assert s.wait_log("HARAKIRI")
    fams = wait_until(lambda: (f := metrics(port)) and value(f, "trellis_harakiri_kills_total") == 1 and f)
    assert value(fams, "trellis_harakiri_kills_total") == 1
    assert value(fams, "trellis_requests_total", status="2xx") == 12


def test_reload_bumps_the_generation_and_stays_ready(server):
    port = free_port()
    s = server(*BASE, "--processes", "1", "--stats", f"127.0.0.1:{port}", "--stats-http")
    assert value(metrics(port), "trellis_reload_generation") == 1
    s.send(signal.SIGHUP)
    assert wait_until(lambda: value(metrics(port), "trellis_reload_generation") == 2)
    for _ in range(20):
        assert stats_http(port, "/ready")[0] == 200
        time.sleep(0.05)
    assert s.wait_log("all 1 workers are ready (generation 2)")
    doc = json.loads(stats_http(port, "/")[2])
    assert wait_until(lambda: [w["generation"] for w in json.loads(stats_http(port, "/")[2])["workers"]] == [2])


def test_ready_is_503_while_stopping(server):
    port = free_port()
    s = server(*BASE, "--processes", "1", "--stats", f"127.0.0.1:{port}", "--stats-http")
    assert stats_http(port, "/ready")[0] == 200
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", http_get(s.port, "/sleep/1500")))
    t.start()
    assert wait_until(lambda: value(metrics(port), "trellis_requests_in_flight") == 1), \
        "the slow request never reached the application"
    s.send(signal.SIGTERM)
    status, _, body = wait_until(lambda: (r := stats_http(port, "/ready")) and r[0] == 503 and r)
    assert status == 503 and body == b"stopping\n"
    assert value(metrics(port), "trellis_ready") == 0
    t.join(10)
    assert result.get("r") == (200, b"slept")
    s.proc.wait(timeout=10)


def test_bad_stats_address_is_a_startup_error(tmp_path):
    from conftest import Server
    with pytest.raises(RuntimeError) as e:
        Server([*BASE, "--stats", "127.0.0.1:notaport"], tmp_path)
    assert "--stats" in str(e.value)


@pytest.mark.parametrize("bad", [
    "trellis_x_total 1\n",                                                     # no HELP/TYPE
    "# HELP trellis_x_total x\n# TYPE trellis_x_total counter\ntrellis_x_total{a=b} 1\n",  # unquoted label
    "# HELP trellis_x x\n# TYPE trellis_x counter\ntrellis_x 1\n",             # counter without _total
    "# HELP trellis_x x\n# TYPE trellis_x gauge\ntrellis_x 1",                 # no final newline
    "# HELP trellis_h x\n# TYPE trellis_h histogram\ntrellis_h_bucket{le=\"1\"} 3\n"
    "trellis_h_bucket{le=\"+Inf\"} 2\ntrellis_h_sum 1\ntrellis_h_count 2\n",   # not cumulative
    "# HELP trellis_h x\n# TYPE trellis_h histogram\ntrellis_h_bucket{le=\"1\"} 1\n"
    "trellis_h_bucket{le=\"+Inf\"} 2\ntrellis_h_sum 1\ntrellis_h_count 3\n",   # +Inf != count
])
def test_the_metrics_parser_is_strict(bad):
    with pytest.raises(AssertionError):
        parse_metrics(bad)
