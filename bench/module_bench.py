#!/usr/bin/python3
"""Benchmark of the codis_slots module's per-slot index.

1. Index memory per key: the same N keys (17-byte names, 1-byte values) are
   loaded into a redis-server without and with the module; the difference in
   INFO used_memory (and the module's own INFO codis_slots_index) over N.
2. Cost on pipelined creation of new keys: redis-benchmark
   `SET key:__rand_int__` with -P 16 against a fresh server without and with
   the module, alternating; reported as the server's CPU time per request
   (from /proc, stable) and the throughput ratio (wall-clock throughput on a
   2-core machine shared with redis-benchmark varies run to run).

3. Async migration: 256 slots holding 64k small keys plus one 1M-field hash
   moved with SLOTSMGRTTAGSLOT-ASYNC (Codis's dashboard defaults: timeout
   30 s, maxbulks 200, maxbytes 32 MB, numkeys 500) while a client on another
   connection runs GET/SET on keys of other slots; total time and that
   client's latency (p99, max).

Usage: bench/module_bench.py [--keys 1000000] [--requests 2000000] [--rounds 3]
Environment: CODIS_BUILD_DIR (default <repo>/build) holds
server-patches/codis_slots.so. Results go to bench/out/module-<stamp>.json.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]
MODULE = Path(os.environ.get("CODIS_BUILD_DIR", REPO / "build")) / "server-patches" / "codis_slots.so"


def free_port():
    for port in range(24000, 32000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


class Server:
    def __init__(self, module):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="module-bench-")
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "log")]
        if module:
            cmd += ["--loadmodule", str(MODULE)]
        self.proc = subprocess.Popen(cmd)
        self.c = redis.Redis(host="127.0.0.1", port=self.port)
        for _ in range(200):
            try:
                self.c.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load_keys(server, path):
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=f, check=True,
                       stdout=subprocess.DEVNULL)


def memory(n, path):
    out = {}
    for module in (False, True):
        s = Server(module)
        try:
            before = s.c.info("memory")["used_memory"]
            load_keys(s, path)
            assert s.c.dbsize() == n
            after = s.c.info("memory")["used_memory"]
            out["with" if module else "without"] = after - before
            if module:
                info = s.c.info("everything")
                out["index_bytes"] = info.get("codis_slots_index_bytes")
                assert sum(x[1] for x in s.c.execute_command("SLOTSINFO")) == n
        finally:
            s.stop()
    out["per_key_used_memory"] = (out["with"] - out["without"]) / n
    out["per_key_index_bytes"] = out["index_bytes"] / n if out.get("index_bytes") else None
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def bench_set(server, requests):
    t0 = cpu_ticks(server.proc.pid)
    r = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-t", "set", "-P", "16", "-c", "50",
         "-n", str(requests), "-r", "100000000", "-q"],
        check=True, capture_output=True, text=True)
    ticks = cpu_ticks(server.proc.pid) - t0
    m = re.findall(r"([\d.]+) requests per second", r.stdout.replace("\r", "\n"))
    ns_per_req = ticks * 1e9 / os.sysconf("SC_CLK_TCK") / requests
    return float(m[-1]), ns_per_req


def throughput(requests, rounds):
    res = {"without": [], "with": [], "server_cpu_ns_without": [], "server_cpu_ns_with": []}
    for _ in range(rounds):
        for module in (False, True):
            s = Server(module)
            try:
                rps, ns = bench_set(s, requests)
                res["with" if module else "without"].append(rps)
                res["server_cpu_ns_with" if module else "server_cpu_ns_without"].append(round(ns))
                if module:
                    res.setdefault("keys_created", s.c.dbsize())
            finally:
                s.stop()
    res["ratio_median"] = sorted(w / wo for w, wo in zip(res["with"], res["without"]))[rounds // 2]
    res["cpu_ratio_median"] = sorted(
        w / wo for w, wo in zip(res["server_cpu_ns_with"], res["server_cpu_ns_without"]))[rounds // 2]
    return res


def slot_of(key: bytes) -> int:
    import zlib
    i = key.find(b"{")
    if i >= 0:
        j = key.find(b"}", i + 1)
        if j >= 0:
            key = key[i + 1:j]
    return zlib.crc32(key) % 1024


FILL_HASH = """
for i = 1, tonumber(ARGV[1]), 1000 do
  local args = {}
  for j = i, math.min(i + 999, tonumber(ARGV[1])) do args[#args+1] = 'f' .. j; args[#args+1] = j end
  redis.call('HSET', KEYS[1], unpack(args))
end
return 1
"""


def migration(small_keys=64000, slots=256, hash_fields=1_000_000):
    import threading
    src, dst = Server(True), Server(True)
    try:
        per_slot = small_keys // slots
        counts = {s: 0 for s in range(slots)}
        pipe = src.c.pipeline(transaction=False)
        i = 0
        while any(c < per_slot for c in counts.values()):
            k = b"mk:%d" % i
            i += 1
            s = slot_of(k)
            if s < slots and counts[s] < per_slot:
                counts[s] += 1
                pipe.set(k, b"x" * 16)
                if len(pipe) >= 1000:
                    pipe.execute()
        pipe.execute()
        hash_key = next(b"{h%d}" % j for j in range(10**6) if slot_of(b"h%d" % j) == 7)
        src.c.eval(FILL_HASH, 1, hash_key, hash_fields)
        outside = [b"out:%d" % j for j in range(10**6) if slot_of(b"out:%d" % j) >= slots][:1000]
        src.c.mset({k: b"1" for k in outside})
        lat, stop = [], threading.Event()

        def client():
            c = redis.Redis(host="127.0.0.1", port=src.port)
            n = 0
            while not stop.is_set():
                k = outside[n % len(outside)]
                t0 = time.perf_counter()
                c.set(k, b"2") if n % 2 else c.get(k)
                lat.append(time.perf_counter() - t0)
                n += 1

        t = threading.Thread(target=client)
        t.start()
        time.sleep(0.5)
        start = time.perf_counter()
        for s in range(slots):
            while True:
                moved, remaining = src.c.execute_command(
                    "SLOTSMGRTTAGSLOT-ASYNC", "127.0.0.1", dst.port, 30000, 200, 32 << 20, s, 500)
                if remaining == 0:
                    break
        total = time.perf_counter() - start
        time.sleep(0.2)
        stop.set()
        t.join()
        assert dst.c.hlen(hash_key) == hash_fields
        assert dst.c.dbsize() == small_keys // slots * slots + 1
        lat.sort()
        return {"slots": slots, "small_keys": per_slot * slots, "hash_fields": hash_fields,
                "total_seconds": round(total, 2), "client_requests": len(lat),
                "client_p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 2),
                "client_max_ms": round(lat[-1] * 1000, 2)}
    finally:
        src.stop()
        dst.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only-migration", action="store_true")
    a = ap.parse_args()
    if not MODULE.exists():
        raise SystemExit(f"{MODULE} not found: build first or set CODIS_BUILD_DIR")
    if a.only_migration:
        print(json.dumps({"migration": migration()}, indent=2))
        return
    tmp = tempfile.mkdtemp(prefix="module-bench-data-")
    path = os.path.join(tmp, "keys.resp")
    with open(path, "wb") as f:
        for i in range(a.keys):
            f.write(resp(b"SET", b"k:%015d" % i, b"v"))  # 17-byte names
    result = {"keys": a.keys, "name_bytes": 17, "memory": memory(a.keys, path),
              "pipelined_set": throughput(a.requests, a.rounds),
              "migration": migration()}
    shutil.rmtree(tmp, ignore_errors=True)
    outdir = REPO / "bench" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    out = outdir / f"module-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
