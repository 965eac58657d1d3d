#!/usr/bin/python3
"""Side-by-side proxy benchmark: direct Redis vs codis-proxy vs twemproxy.

With --tls, two more targets: "direct-tls" (redis-server's own TLS port,
--port 0) and "proxy-tls" (clients on the proxy's TLS port, the proxy on the
backends' TLS ports: backend_tls), driven by redis-benchmark --tls with a
private CA made with openssl in the run directory.

For each target and each mode (no pipeline, -P 16) it measures, in one run:
  * throughput (redis-benchmark rps for SET and GET) and the ratio to direct
    Redis measured in the same run (median over --rounds interleaved rounds);
  * user-space instructions per request (valgrind --tool=callgrind, counters
    zeroed with callgrind_control -z after a warm-up, dumped with -d after a
    fixed number of requests; Ir from the dump's "summary:" line / requests);
  * syscalls per request (perf stat -e raw_syscalls:sys_enter -p PID attached
    across exactly one benchmark run, / requests).

Only the target process is measured (the proxy, nutcracker or the directly
benchmarked redis-server); backends and the client are not.

Every process it starts listens on 127.0.0.1 only, on free ports below 32768,
and is stopped at exit, on error and on Ctrl-C/SIGTERM/SIGHUP.

See docs/benchmarks.md for what the numbers mean.
"""

import argparse
import collections
import datetime
import glob
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("direct", "proxy", "twemproxy", "direct-tls", "proxy-tls")
TLS_TARGETS = ("direct-tls", "proxy-tls")
MODES = (("nopipe", 1), ("P16", 16))
TESTS = ("set", "get")
CLIENTS = 50
HOST = "127.0.0.1"

# Goals for our proxy (docs/design.md §10 has the current ones).
GOALS = {
    "instr_nopipe": 3000,
    "instr_P16": 2000,
    "syscalls_P16": 0.15,
    "ratio_P16": 0.9,
}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Process bookkeeping: everything we start is stopped in cleanup().

class Procs:
    def __init__(self):
        self.procs = []  # (name, Popen)

    def start(self, name, argv, logpath, cwd=None):
        logf = open(logpath, "ab")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=cwd,
                             start_new_session=True)
        logf.close()
        self.procs.append((name, p))
        return p

    def stop(self, p, grace=15.0):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.procs = [(n, q) for (n, q) in self.procs if q is not p]

    def cleanup(self):
        for name, p in reversed(list(self.procs)):
            self.stop(p, grace=10.0)


PROCS = Procs()
USED_PORTS = set()
TLS_PORTS = set()  # ports that speak TLS: clients there use the run's CA
TLS = None         # {"ca": path, "cert": path, "key": path} once made


def free_port():
    for _ in range(1000):
        port = random.randint(20000, 32000)
        if port in USED_PORTS:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, port))
        except OSError:
            continue
        finally:
            s.close()
        USED_PORTS.add(port)
        return port
    raise RuntimeError("no free port found")


# --------------------------------------------------------------------------
# Minimal RESP client for readiness and sanity checks.

class Resp:
    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection((HOST, port), timeout=timeout)
        if port in TLS_PORTS:
            import ssl
            ctx = ssl.create_default_context(cafile=TLS["ca"])
            self.s = ctx.wrap_socket(self.s, server_hostname=HOST)
        self.buf = b""

    def close(self):
        self.s.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("connection closed")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return (t + rest).decode()
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()


def wait_ready(port, proc, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with code %s before it was ready"
                               % proc.returncode)
        try:
            c = Resp(port, timeout=2.0)
            try:
                r = c.cmd("PING")
            finally:
                c.close()
            if r == "+PONG":
                return
            last = r
        except (OSError, ConnectionError, ValueError) as e:  # ssl.SSLError is an OSError
            last = e
        time.sleep(0.2)
    raise RuntimeError("not ready on port %d after %.0fs (last: %r)"
                       % (port, timeout, last))


# --------------------------------------------------------------------------
# Starting targets.

class Env:
    def __init__(self, args, rundir):
        self.args = args
        self.rundir = rundir
        self.backends = []  # ports of the two backend redis-servers

    def path(self, name):
        return os.path.join(self.rundir, name)


def make_tls(env):
    """A private CA and one certificate (127.0.0.1) for every TLS endpoint."""
    global TLS
    if TLS is None:
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        from tls_certs import CertAuthority
        ca = CertAuthority(env.path("tls"), "bench-ca")
        c = ca.issue("bench-server", ips=(HOST,))
        TLS = {"ca": str(ca.cert), "cert": str(c.cert), "key": str(c.key)}
    return TLS


def tls_args(port):
    t = TLS  # made by the caller (make_tls)
    return ["--tls-port", str(port), "--tls-cert-file", t["cert"], "--tls-key-file", t["key"],
            "--tls-ca-cert-file", t["ca"], "--tls-auth-clients", "no"]


def redis_argv(env, port, name, tls_port=None):
    argv = ["redis-server", "--port", str(port), "--bind", HOST,
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
            "--dir", env.rundir, "--dbfilename", name + ".rdb",
            "--logfile", env.path(name + ".log"), "--daemonize", "no"]
    if tls_port is not None:
        argv += tls_args(tls_port)
    return argv


def valgrind_prefix(env, name):
    return ["valgrind", "--tool=callgrind",
            "--callgrind-out-file=" + env.path(name + ".callgrind.out"),
            "--log-file=" + env.path(name + ".valgrind.log")]


def start_redis(env, name, valgrind=False, tls=False):
    """tls: the server listens on a TLS port only (--port 0), which is returned."""
    port = free_port()
    if tls:
        make_tls(env)
        TLS_PORTS.add(port)
        argv = redis_argv(env, 0, name, tls_port=port)
    else:
        argv = redis_argv(env, port, name)
    if valgrind:
        argv = valgrind_prefix(env, name) + argv
    p = PROCS.start(name, argv, env.path(name + ".stdout"))
    wait_ready(port, p, 90 if valgrind else 15)
    return port, p


def start_backends(env):
    if env.backends:
        return
    # With TLS targets, the backends also listen on a TLS port (for proxy-tls);
    # fills and checks keep using their plain ports.
    want_tls = any(t in TLS_TARGETS for t in env.args.targets)
    if want_tls:
        make_tls(env)
    env.backend_tls = []
    for i in (1, 2):
        port = free_port()
        name = "backend%d" % i
        tport = free_port() if want_tls else None
        p = PROCS.start(name, redis_argv(env, port, name, tls_port=tport), env.path(name + ".stdout"))
        wait_ready(port, p, 15)
        env.backends.append(port)
        env.backend_tls.append(tport)
    log("backends: 127.0.0.1:%d (group 1, slots 0-511), 127.0.0.1:%d "
        "(group 2, slots 512-1023)" % tuple(env.backends))


def start_proxy(env, name, valgrind=False, tls=False):
    """tls: clients on the proxy's TLS port (returned), backends over TLS."""
    start_backends(env)
    port, admin = free_port(), free_port()
    conf = env.path(name + ".toml")
    backends = env.backends
    with open(conf, "w") as f:
        f.write('product_name = "bench"\n')
        f.write('admin_addr = "%s:%d"\n' % (HOST, admin))
        f.write('proxy_addr = "%s:%d"\n' % (HOST, port))
        if tls:
            tport = free_port()
            TLS_PORTS.add(tport)
            f.write('proxy_tls_addr = "%s:%d"\n' % (HOST, tport))
            f.write('proxy_tls_cert_file = "%s"\nproxy_tls_key_file = "%s"\n' % (TLS["cert"], TLS["key"]))
            f.write('backend_tls = true\nbackend_tls_ca_file = "%s"\n' % TLS["ca"])
            backends = env.backend_tls
    slots = env.path(name + ".slots.json")
    with open(slots, "w") as f:
        json.dump([{"id": i,
                    "backend_addr": "%s:%d" % (HOST, backends[0 if i < 512 else 1]),
                    "backend_addr_group_id": 1 if i < 512 else 2}
                   for i in range(1024)], f)
    argv = [env.args.proxy_bin, "--config", conf, "--fillslots", slots,
            "--ncpu", "1", "--log", env.path(name + ".log"),
            "--log-level", "warn"]
    if valgrind:
        argv = valgrind_prefix(env, name) + argv
    p = PROCS.start(name, argv, env.path(name + ".stdout"))
    wait_ready(port, p, 90 if valgrind else 15)
    if tls:
        wait_ready(tport, p, 30)
        return tport, p
    return port, p


def start_twemproxy(env, name, valgrind=False):
    start_backends(env)
    port, stats = free_port(), free_port()
    conf = env.path(name + ".yml")
    with open(conf, "w") as f:
        f.write("bench:\n"
                "  listen: %s:%d\n"
                "  hash: fnv1a_64\n"
                "  distribution: ketama\n"
                "  redis: true\n"
                "  preconnect: true\n"
                "  auto_eject_hosts: false\n"
                "  server_connections: 1\n"
                "  servers:\n"
                "   - %s:%d:1 backend1\n"
                "   - %s:%d:1 backend2\n"
                % (HOST, port, HOST, env.backends[0], HOST, env.backends[1]))
    # -v 4: at the default level (5) nutcracker calls getpeername() once per
    # request for a log line it never prints (docs/design.md §10).
    argv = ["nutcracker", "-v", "4", "-c", conf, "-o", env.path(name + ".log"),
            "-s", str(stats), "-a", HOST]
    if valgrind:
        argv = valgrind_prefix(env, name) + argv
    p = PROCS.start(name, argv, env.path(name + ".stdout"))
    wait_ready(port, p, 90 if valgrind else 15)
    return port, p


def start_target(env, target, valgrind=False):
    name = target + ("-callgrind" if valgrind else "")
    if target == "direct":
        return start_redis(env, name, valgrind)
    if target == "direct-tls":
        return start_redis(env, name, valgrind, tls=True)
    if target == "proxy":
        return start_proxy(env, name, valgrind)
    if target == "proxy-tls":
        return start_proxy(env, name, valgrind, tls=True)
    return start_twemproxy(env, name, valgrind)


# --------------------------------------------------------------------------
# redis-benchmark.

def run_bench(port, test, n, pipeline, timeout=900):
    argv = ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", test,
            "-n", str(n), "-c", str(CLIENTS), "-r", str(ARGS.keyspace),
            "-d", str(ARGS.datasize), "-P", str(pipeline), "--csv", "-e"]
    if port in TLS_PORTS:
        argv += ["--tls", "--cacert", TLS["ca"]]
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("redis-benchmark %s -P %d timed out after %ds"
                           % (test, pipeline, timeout))
    out = r.stdout.decode(errors="replace")
    errors = out.count("Error from server") + \
        r.stderr.decode(errors="replace").count("Error from server")
    rps = None
    for line in out.splitlines():
        m = re.match(r'^"([A-Z_]+)","([0-9.]+)"', line)
        if m and m.group(1).lower() == test:
            rps = float(m.group(2))
    if r.returncode != 0 or rps is None:
        raise RuntimeError("redis-benchmark failed (rc %d): %s %s"
                           % (r.returncode, out[-500:],
                              r.stderr.decode(errors="replace")[-500:]))
    if errors:
        raise RuntimeError("redis-benchmark %s -P %d saw error replies: %s"
                           % (test, pipeline, out[-500:]))
    return rps


def mode_requests(pipeline):
    return ARGS.requests * (ARGS.pipeline_factor if pipeline > 1 else 1)


def cg_requests(pipeline):
    return ARGS.cg_requests * (ARGS.pipeline_factor if pipeline > 1 else 1)


# --------------------------------------------------------------------------
# Sanity: values round-trip and (for proxies) both backends receive keys.

def sanity(env, target, port):
    c = Resp(port)
    try:
        # distinct random keys, so any hash/distribution spreads them
        keys = ["bench:sanity:%s:%d" % (target, random.getrandbits(48))
                for _ in range(200)]
        for i, k in enumerate(keys):
            if c.cmd("SET", k, "v%d" % i) != "+OK":
                raise RuntimeError("%s: SET %s failed" % (target, k))
            if c.cmd("GET", k) != b"v%d" % i:
                raise RuntimeError("%s: GET %s returned a wrong value" % (target, k))
    finally:
        c.close()
    dist = None
    if not target.startswith("direct"):
        dist = []
        for b in env.backends:
            bc = Resp(b)
            try:
                dist.append(sum(bc.cmd("EXISTS", k) for k in keys))
            finally:
                bc.close()
        if min(dist) == 0:
            raise RuntimeError("%s: sanity keys all went to one backend: %s"
                               % (target, dist))
    return dist


def fill(port, timeout=300):
    """SET every key redis-benchmark -r can generate (key:%012d, -d bytes), so
    that every GET hits and every SET overwrites, in every phase alike."""
    c = Resp(port, timeout=timeout)
    val = b"x" * ARGS.datasize
    try:
        batch = 1000
        for start in range(0, ARGS.keyspace, batch):
            out = []
            end = min(start + batch, ARGS.keyspace)
            for i in range(start, end):
                k = b"key:%012d" % i
                out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                           % (len(k), k, len(val), val))
            c.s.sendall(b"".join(out))
            for i in range(start, end):
                r = c.reply()
                if r != "+OK":
                    raise RuntimeError("fill: SET key:%012d -> %r" % (i, r))
    finally:
        c.close()


# --------------------------------------------------------------------------
# perf stat.

BREAKDOWN = ("read", "write", "readv", "writev", "recvfrom", "sendto",
             "recvmsg", "sendmsg", "epoll_wait", "epoll_pwait", "epoll_pwait2",
             "epoll_ctl", "io_uring_enter", "accept4", "getpeername", "futex",
             "clock_gettime")
_breakdown_events = None


def breakdown_events():
    """syscalls:sys_enter_* tracepoints that exist here, for the breakdown."""
    global _breakdown_events
    if _breakdown_events is None:
        try:
            out = subprocess.run(["perf", "list", "syscalls:sys_enter_*"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 timeout=60).stdout.decode(errors="replace")
        except Exception:
            out = ""
        have = set(re.findall(r"syscalls:sys_enter_(\w+)", out))
        _breakdown_events = ["syscalls:sys_enter_" + n for n in BREAKDOWN if n in have]
    return _breakdown_events


def perf_syscalls(pid, fn):
    """Count syscalls of process pid (all threads) while fn runs.
    Returns (total, {syscall name: count})."""
    out = os.path.join(RUNDIR, "perf-%d-%d.txt" % (pid, time.time_ns()))
    events = ["raw_syscalls:sys_enter"] + breakdown_events()
    p = subprocess.Popen(["perf", "stat", "-e", ",".join(events),
                          "-x", ",", "-o", out, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    PROCS.procs.append(("perf", p))
    try:
        time.sleep(0.5)  # let perf attach before the first request
        if p.poll() is not None:
            raise RuntimeError("perf stat exited: %s"
                               % p.stderr.read().decode(errors="replace"))
        fn()
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        PROCS.procs = [(n, q) for (n, q) in PROCS.procs if q is not p]
    total, parts = None, {}
    with open(out) as f:
        for line in f:
            cols = line.strip().split(",")
            if len(cols) < 3 or not cols[0].isdigit():
                continue
            if cols[2] == "raw_syscalls:sys_enter":
                total = int(cols[0])
            elif cols[2].startswith("syscalls:sys_enter_"):
                c = int(cols[0])
                if c:
                    parts[cols[2][len("syscalls:sys_enter_"):]] = c
    if total is None:
        raise RuntimeError("no raw_syscalls:sys_enter count in perf output %s" % out)
    parts["other"] = total - sum(parts.values())
    return total, parts


# --------------------------------------------------------------------------
# callgrind.

def callgrind_control(opt, pid):
    r = subprocess.run(["callgrind_control", opt, str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=120)
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0 or "OK" not in out:
        raise RuntimeError("callgrind_control %s %d failed: %s" % (opt, pid, out))


def callgrind_measure(env, name, pid, fn):
    """Zero counters, run fn, dump; return the Ir total of that dump."""
    pattern = env.path(name + ".callgrind.out.*")
    before = set(glob.glob(pattern))
    callgrind_control("-z", pid)
    fn()
    callgrind_control("-d", pid)
    deadline = time.time() + 30
    while time.time() < deadline:
        new = sorted(set(glob.glob(pattern)) - before,
                     key=lambda p: int(p.rsplit(".", 1)[1]))
        if new:
            ir = read_callgrind_total(new[-1])
            if ir is not None:
                return ir, new[-1]
        time.sleep(0.2)
    raise RuntimeError("no callgrind dump appeared for %s" % name)


def read_callgrind_total(path):
    summary = totals = None
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                summary = int(line.split()[1])
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
    return summary if summary is not None else totals


# --------------------------------------------------------------------------
# Phases.

def phase_throughput_and_syscalls(env, targets, results):
    ports, procs = {}, {}
    for t in targets:
        try:
            ports[t], procs[t] = start_target(env, t)
            dist = sanity(env, t, ports[t])
            results[t]["sanity_backend_distribution"] = dist
            log("%s ready on 127.0.0.1:%d (pid %d)%s"
                % (t, ports[t], procs[t].pid,
                   "" if dist is None else ", sanity keys per backend %s" % dist))
            t0 = time.time()
            fill(ports[t])
            log("%s: filled %d keys in %.1fs" % (t, ARGS.keyspace, time.time() - t0))
            if not t.startswith("direct"):
                sizes = []
                for b in env.backends:
                    bc = Resp(b)
                    try:
                        sizes.append(bc.cmd("DBSIZE"))
                    finally:
                        bc.close()
                results[t]["backend_dbsize_after_fill"] = sizes
                log("%s: backend DBSIZE after fill %s" % (t, sizes))
            # warm-up: connections, buffers, allocator
            run_bench(ports[t], "set", max(10000, ARGS.requests // 5), 16)
            run_bench(ports[t], "get", max(10000, ARGS.requests // 5), 16)
        except Exception as e:
            results[t]["error"] = "start/warm-up: %s" % e
            log("%s: %s" % (t, results[t]["error"]))
            if t in procs:
                PROCS.stop(procs[t])
            ports.pop(t, None)
            procs.pop(t, None)
    live = [t for t in targets if t in ports]

    # Throughput: rounds interleave targets so that machine noise hits all.
    for rnd in range(ARGS.rounds):
        for mode, pipeline in MODES:
            for t in live:
                if "error" in results[t]:
                    continue
                for test in TESTS:
                    try:
                        rps = run_bench(ports[t], test, mode_requests(pipeline),
                                        pipeline)
                    except Exception as e:
                        results[t]["error"] = "throughput: %s" % e
                        log("%s: %s" % (t, e))
                        break
                    results[t][mode]["rps_runs"][test].append(rps)
                    log("round %d %-9s %-6s %s: %.0f rps"
                        % (rnd + 1, t, mode, test, rps))

    # Syscalls: perf stat attached to the target for exactly one run.
    for t in live:
        if "error" in results[t] or ARGS.no_perf:
            continue
        for mode, pipeline in MODES:
            for test in TESTS:
                n = mode_requests(pipeline)
                try:
                    count, parts = perf_syscalls(
                        procs[t].pid,
                        lambda: run_bench(ports[t], test, n, pipeline))
                except Exception as e:
                    results[t][mode]["syscalls_error"] = str(e)
                    log("%s %s %s syscalls: %s" % (t, mode, test, e))
                    continue
                results[t][mode]["syscalls"][test] = {"count": count,
                                                      "requests": n,
                                                      "by_syscall": parts}
                log("%-9s %-6s %s: %d syscalls / %d requests = %.3f  (%s)"
                    % (t, mode, test, count, n, count / n,
                       " ".join("%s %.3f" % (k, v / n) for k, v in
                                sorted(parts.items(), key=lambda kv: -kv[1]))))
    for t in live:
        PROCS.stop(procs[t])


def phase_callgrind(env, targets, results):
    for t in targets:
        if "error" in results[t]:
            continue
        name = t + "-callgrind"
        try:
            port, p = start_target(env, t, valgrind=True)
            log("%s under callgrind ready on 127.0.0.1:%d (pid %d)"
                % (t, port, p.pid))
        except Exception as e:
            results[t]["callgrind_error"] = str(e)
            log("%s callgrind start: %s" % (t, e))
            continue
        try:
            if t.startswith("direct"):  # fresh instance; proxy backends are filled already
                t0 = time.time()
                fill(port)
                log("%s: filled %d keys in %.1fs" % (name, ARGS.keyspace,
                                                     time.time() - t0))
            # warm-up (both modes) before counters are zeroed
            for test in TESTS:
                run_bench(port, test, max(1000, ARGS.cg_requests // 4), 1)
                run_bench(port, test, max(1000, ARGS.cg_requests // 4), 16)
            for mode, pipeline in MODES:
                for test in TESTS:
                    n = cg_requests(pipeline)
                    ir, dump = callgrind_measure(
                        env, name, p.pid,
                        lambda: run_bench(port, test, n, pipeline))
                    entry = {"ir": ir, "requests": n, "dump": os.path.relpath(dump, ROOT)}
                    if t in TLS_TARGETS:
                        # Each redis-benchmark run makes 50 new TLS connections, and a
                        # handshake costs millions of instructions: the per-request
                        # figure is the difference to a run of a quarter the requests
                        # (same handshakes), per request of the difference.
                        n1 = n // 4
                        ir1, _ = callgrind_measure(
                            env, name, p.pid,
                            lambda: run_bench(port, test, n1, pipeline))
                        marginal = (ir - ir1) / (n - n1)
                        entry = {"ir": ir - ir1, "requests": n - n1,
                                 "dump": os.path.relpath(dump, ROOT),
                                 "runs": [[n1, ir1], [n, ir]],
                                 "setup_ir_per_connection": (ir1 - marginal * n1) / CLIENTS}
                        log("%-9s %-6s %s: %d Ir / %d requests, %d Ir / %d requests: %.0f instr/request, "
                            "%.0f per connection set-up (TLS handshake)"
                            % (t, mode, test, ir1, n1, ir, n, marginal, entry["setup_ir_per_connection"]))
                    else:
                        log("%-9s %-6s %s: %d Ir / %d requests = %.0f instr/request"
                            % (t, mode, test, ir, n, ir / n))
                    results[t][mode]["instructions"][test] = entry
        except Exception as e:
            results[t]["callgrind_error"] = str(e)
            log("%s callgrind: %s" % (t, e))
        finally:
            PROCS.stop(p, grace=30.0)


# --------------------------------------------------------------------------
# Reporting.

def summarize(results):
    for t in results:
        for mode, _ in MODES:
            r = results[t][mode]
            r["rps"] = {k: (statistics.median(v) if v else None)
                        for k, v in r["rps_runs"].items()}
            ins = r["instructions"]
            if all(k in ins for k in TESTS):
                r["instr_per_request"] = {k: ins[k]["ir"] / ins[k]["requests"]
                                          for k in TESTS}
                r["instr_per_request"]["all"] = (
                    sum(ins[k]["ir"] for k in TESTS) /
                    sum(ins[k]["requests"] for k in TESTS))
            sc = r["syscalls"]
            if all(k in sc for k in TESTS):
                r["syscalls_per_request"] = {k: sc[k]["count"] / sc[k]["requests"]
                                             for k in TESTS}
                r["syscalls_per_request"]["all"] = (
                    sum(sc[k]["count"] for k in TESTS) /
                    sum(sc[k]["requests"] for k in TESTS))
    for t in results:
        for mode, _ in MODES:
            base = "direct-tls" if t in TLS_TARGETS else "direct"
            r, d = results[t][mode], results.get(base, {}).get(mode)
            r["ratio_vs_direct"] = {}
            if d is None:
                continue
            for k in TESTS:
                # median of per-round ratios (rounds are interleaved)
                a, b = r["rps_runs"][k], d["rps_runs"][k]
                if a and b and len(a) == len(b):
                    r["ratio_vs_direct"][k] = statistics.median(
                        x / y for x, y in zip(a, b))


def fmt_int(v):
    return "-" if v is None else "{:,.0f}".format(v)


def markdown(results, meta):
    lines = []
    lines.append("| target | mode | SET rps | GET rps | vs direct SET / GET "
                 "| instr/request (SET / GET / all) | syscalls/request (SET / GET / all) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for t in results:
        r0 = results[t]
        for mode, pipeline in MODES:
            r = r0[mode]
            mname = "no pipeline" if pipeline == 1 else "-P %d" % pipeline
            if "error" in r0 and not any(r["rps_runs"].values()):
                lines.append("| %s | %s | not measured: %s | | | | |"
                             % (t, mname, r0["error"].replace("|", "/")[:150]))
                continue
            rat = r.get("ratio_vs_direct", {})
            ratio = ("%.2fx / %.2fx" % (rat["set"], rat["get"])
                     if "set" in rat and "get" in rat else "-")
            ipr = r.get("instr_per_request")
            ins = ("%s / %s / **%s**" % (fmt_int(ipr["set"]), fmt_int(ipr["get"]),
                                         fmt_int(ipr["all"]))
                   if ipr else "not measured")
            spr = r.get("syscalls_per_request")
            sys_ = ("%.3f / %.3f / **%.3f**" % (spr["set"], spr["get"], spr["all"])
                    if spr else "not measured")
            lines.append("| %s | %s | %s | %s | %s | %s | %s |"
                         % (t, mname, fmt_int(r["rps"]["set"]),
                            fmt_int(r["rps"]["get"]), ratio, ins, sys_))
    setup = []
    for t in results:
        if t not in TLS_TARGETS:
            continue
        for mode, pipeline in MODES:
            ins = results[t][mode]["instructions"]
            vals = [ins[k]["setup_ir_per_connection"] for k in TESTS if "setup_ir_per_connection" in ins.get(k, {})]
            if vals:
                setup.append("%s %s: %s" % (t, "no pipeline" if pipeline == 1 else "-P %d" % pipeline,
                                            fmt_int(statistics.mean(vals))))
    if setup:
        lines.append("")
        lines.append("TLS targets: instr/request is the difference between a run of N requests and one "
                     "of N/4 (both with %d new connections) over 3N/4, so TLS handshakes are left out; "
                     "instructions per connection set-up (mostly the handshake): %s."
                     % (CLIENTS, "; ".join(setup)))
    bd = []
    for t in results:
        for mode, pipeline in MODES:
            sc = results[t][mode]["syscalls"]
            if not all(k in sc for k in TESTS):
                continue
            n = sum(sc[k]["requests"] for k in TESTS)
            agg = collections.Counter()
            for k in TESTS:
                agg.update(sc[k]["by_syscall"])
            bd.append("| %s | %s | %s |" % (
                t, "no pipeline" if pipeline == 1 else "-P %d" % pipeline,
                ", ".join("%s %.3f" % (k, v / n) for k, v in agg.most_common()
                          if v / n >= 0.0005)))
    if bd:
        lines.append("")
        lines.append("| target | mode | syscalls/request by syscall (SET+GET) |")
        lines.append("|---|---|---|")
        lines.extend(bd)
    if "proxy" in results and "error" not in results["proxy"]:
        p = results["proxy"]
        chk = []

        def goal(label, val, limit, le=True):
            if val is None:
                chk.append("%s: not measured" % label)
                return
            ok = val <= limit if le else val >= limit
            chk.append("%s: %s (goal %s %s) %s" % (
                label, ("%.3f" % val) if val < 10 else fmt_int(val),
                "<=" if le else ">=", limit, "OK" if ok else "MISSED"))

        goal("proxy instr/request no pipeline",
             (p["nopipe"].get("instr_per_request") or {}).get("all"),
             GOALS["instr_nopipe"])
        goal("proxy instr/request -P 16",
             (p["P16"].get("instr_per_request") or {}).get("all"),
             GOALS["instr_P16"])
        goal("proxy syscalls/request -P 16",
             (p["P16"].get("syscalls_per_request") or {}).get("all"),
             GOALS["syscalls_P16"])
        rat = p["P16"].get("ratio_vs_direct", {})
        goal("proxy throughput vs direct -P 16 (min of SET, GET)",
             min(rat.values()) if len(rat) == 2 else None,
             GOALS["ratio_P16"], le=False)
        lines.append("")
        lines.extend("- " + c for c in chk)
    lines.append("")
    lines.append("Requests: %s per throughput/perf run without pipeline, %s with "
                 "-P 16; %s / %s per callgrind run; %d clients, -r %d, -d %d; "
                 "throughput = median of %d interleaved round(s)."
                 % (fmt_int(meta["requests"]["nopipe"]), fmt_int(meta["requests"]["P16"]),
                    fmt_int(meta["cg_requests"]["nopipe"]), fmt_int(meta["cg_requests"]["P16"]),
                    CLIENTS, ARGS.keyspace, ARGS.datasize, ARGS.rounds))
    lines.append("Machine: %s, %d CPUs, %s; %s."
                 % (meta["cpu_model"], meta["nproc"], meta["kernel"], meta["date"]))
    return "\n".join(lines) + "\n"


def machine_meta():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def ver(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=10
                                  ).stdout.decode(errors="replace").strip().splitlines()[0]
        except Exception:
            return "unknown"

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "redis_server": ver(["redis-server", "--version"]),
        "redis_benchmark": ver(["redis-benchmark", "--version"]),
        "nutcracker": ver(["nutcracker", "-V"]),
        "valgrind": ver(["valgrind", "--version"]),
    }


# --------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per throughput/perf run without pipeline "
                         "(-P 16 runs use PIPELINE_FACTOR times more; default "
                         "100000, 20000 with --quick)")
    ap.add_argument("--pipeline-factor", type=int, default=5)
    ap.add_argument("--cg-requests", type=int, default=None,
                    help="requests per callgrind run without pipeline "
                         "(default 20000, 4000 with --quick)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved throughput rounds (default 3, 1 with --quick)")
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--datasize", type=int, default=16)
    ap.add_argument("--quick", action="store_true",
                    help="small counts: a smoke run in about a minute")
    ap.add_argument("--tls", action="store_true",
                    help="also measure direct-tls and proxy-tls (vs direct-tls)")
    ap.add_argument("--only", default=None,
                    help="comma-separated subset of %s (default: all but the TLS ones unless --tls)"
                    % ",".join(TARGETS))
    ap.add_argument("--proxy-bin", default=os.path.join(ROOT, "build/proxy/codis-proxy"))
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/out"),
                    help="output directory (JSON, Markdown, logs, callgrind dumps)")
    a = ap.parse_args()
    if a.requests is None:
        a.requests = 20000 if a.quick else 100000
    if a.cg_requests is None:
        a.cg_requests = 4000 if a.quick else 20000
    if a.rounds is None:
        a.rounds = 1 if a.quick else 3
    if a.only is None:
        a.only = ",".join(t for t in TARGETS if a.tls or t not in TLS_TARGETS)
    a.targets = [t.strip() for t in a.only.split(",") if t.strip()]
    for t in a.targets:
        if t not in TARGETS:
            ap.error("unknown target %r (choose from %s)" % (t, ", ".join(TARGETS)))
    a.targets = [t for t in TARGETS if t in a.targets]  # canonical order
    a.proxy_bin = os.path.abspath(a.proxy_bin)
    return a


def on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    global ARGS, RUNDIR
    ARGS = parse_args()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    need = ["redis-server", "redis-benchmark"]
    if "twemproxy" in ARGS.targets:
        need.append("nutcracker")
    if not ARGS.no_callgrind:
        need += ["valgrind", "callgrind_control"]
    if not ARGS.no_perf:
        need.append("perf")
    missing = [b for b in need if shutil.which(b) is None]
    if missing:
        sys.exit("missing tools: %s" % ", ".join(missing))

    os.makedirs(ARGS.out, exist_ok=True)
    base = stamp = time.strftime("%Y%m%d-%H%M%S")
    for i in range(2, 1000):
        RUNDIR = os.path.join(ARGS.out, "run-" + stamp)
        try:
            os.makedirs(RUNDIR)
            break
        except FileExistsError:
            stamp = "%s-%d" % (base, i)
    env = Env(ARGS, RUNDIR)
    meta = machine_meta()
    meta["requests"] = {m: mode_requests(p) for m, p in MODES}
    meta["cg_requests"] = {m: cg_requests(p) for m, p in MODES}
    meta.update({"clients": CLIENTS, "keyspace": ARGS.keyspace,
                 "datasize": ARGS.datasize, "rounds": ARGS.rounds,
                 "command": " ".join(["bench/proxy_bench.sh"] + sys.argv[1:]),
                 "proxy_bin": ARGS.proxy_bin, "rundir": os.path.relpath(RUNDIR, ROOT)})
    results = {t: {m: {"rps_runs": {k: [] for k in TESTS},
                       "instructions": {}, "syscalls": {}}
                   for m, _ in MODES} for t in ARGS.targets}
    if "proxy" in results and not os.access(ARGS.proxy_bin, os.X_OK):
        results["proxy"]["error"] = "proxy binary %s not found" % ARGS.proxy_bin
    log("run directory %s" % RUNDIR)
    interrupted = False
    try:
        targets = [t for t in ARGS.targets if "error" not in results[t]]
        phase_throughput_and_syscalls(env, targets, results)
        if not ARGS.no_callgrind:
            phase_callgrind(env, targets, results)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; stopping everything")
    finally:
        PROCS.cleanup()
    summarize(results)
    table = markdown(results, meta)
    doc = {"meta": meta, "goals": GOALS, "results": results,
           "interrupted": interrupted}
    jpath = os.path.join(ARGS.out, "proxy_bench-%s.json" % stamp)
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=2)
    with open(os.path.join(ARGS.out, "proxy_bench-%s.md" % stamp), "w") as f:
        f.write(table)
    shutil.copyfile(jpath, os.path.join(ARGS.out, "proxy_bench-latest.json"))
    sys.stdout.write(table)
    log("wrote %s" % jpath)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
