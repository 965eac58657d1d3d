"""The proxies' restricted Redis user (issue 13, item 1), end to end: real
ZooKeeper, redis-servers with codis_slots and product_auth, our dashboard and
proxy. The dashboard provisions the user on every server; client scripts
through the proxy then cannot run what the proxy refuses (FLUSHALL, MIGRATE,
SLOTSDEL, CONFIG, ...), while ordinary traffic and slot migration keep
working, and a restarted server gets the user back. Tests run in file order
on one cluster."""

import re
import threading

import pytest

from dashboard_harness import Dashboard, codis_server
from harness import Err, Proxy, RedisServer, key_in_slot, keys_in_slots, slot_of, wait_until

PRODUCT = "codis-acl-it"
AUTH = "acl-product-secret"
USER = "codis-proxy"


class Cluster:
    def __init__(self, tmp, zk):
        self.tmp = tmp
        # g1 master, g2 master, g1 replica
        self.servers = [codis_server(tmp, password=AUTH).start() for _ in range(3)]
        # A server outside the cluster: where a script would copy keys to with MIGRATE.
        self.outside = RedisServer(tmp).start()
        self.proxy = Proxy(tmp, None, {"product_name": PRODUCT, "product_auth": AUTH}).start()
        self.dash = Dashboard(tmp, PRODUCT, zk.addr, product_auth=AUTH,
                              extra_config="migration_parallel_slots = 4\n").start()

    def close(self):
        self.dash.stop()
        self.proxy.stop()
        for s in [*self.servers, self.outside]:
            s.stop()

    def metrics(self):
        r = self.proxy.get("/metrics")
        assert r.status == 200, r
        return r.text

    def unrestricted(self):
        """addr -> connections running unrestricted, from the proxy's /metrics."""
        out = {}
        for m in re.finditer(r'^codis_proxy_backend_unrestricted\{addr="([^"]+)",db="\d+"\} (\d+)$',
                             self.metrics(), re.M):
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
        return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    c = Cluster(tmp_path_factory.mktemp("acl"), zookeeper)
    yield c
    c.close()


def has_user(server):
    with server.conn() as c:
        return c.call("ACL", "GETUSER", USER) is not None


def dbsizes(cluster):
    out = []
    for s in cluster.servers[:2]:
        for db in (0, 1):
            with s.conn(db) as c:
                out.append(c.call("DBSIZE"))
    return out


def test_setup_provisions_every_server(cluster):
    d, (s1, s2, s3) = cluster.dash, cluster.servers
    for gid, srv in ((1, s1), (2, s2)):
        d.ok("PUT", f"/api/topom/group/create/{{x}}/{gid}")
        d.ok("PUT", f"/api/topom/group/add/{{x}}/{gid}/{srv.addr}")
    assert has_user(s1) and has_user(s2)
    # A replica gets it too (the proxy reads from replicas when replica reads are on).
    d.ok("PUT", f"/api/topom/group/add/{{x}}/1/{s3.addr}")
    assert has_user(s3)
    d.ok("PUT", "/api/topom/group/resync/{x}/1")
    d.ok("PUT", f"/api/topom/proxy/create/{{x}}/{cluster.proxy.admin_url[7:]}")
    d.ok("PUT", "/api/topom/slots/assign/{x}", [{"id": i, "group_id": 1 if i < 512 else 2} for i in range(1024)])
    with s1.conn() as c:
        rules = c.call("ACL", "GETUSER", USER)
    flat = dict(zip(rules[0::2], rules[1::2]))
    cmds = flat[b"commands"].decode()
    for denied in ("-flushall", "-flushdb", "-swapdb", "-migrate", "-config", "-slotsdel", "-slotsrestore",
                   "-slotsmgrttagslot", "-slotsrestore-async-auth"):
        assert denied in cmds, cmds
    assert "-slotsmgrt-exec-wrapper" not in cmds, cmds
    # SLOTSMGRTTAGONE (the sync method's per-key move) only toward the cluster's hosts.
    assert "+slotsmgrttagone|127.0.0.1" in cmds, cmds
    # The proxy's connections end up as the restricted user.
    with cluster.proxy.conn() as c:
        for k in keys_in_slots(0, 1023, 50, "warm"):
            assert c.call("SET", k, "v") == "OK"
    wait_until(lambda: cluster.unrestricted() and not any(cluster.unrestricted().values()), 15,
               what=f"no unrestricted backend connection: {cluster.unrestricted()}")
    with s1.conn() as c:
        clients = c.call("CLIENT", "LIST").decode()
    assert f"user={USER}" in clients, clients
    # The dashboard shows it per server.
    r = d.get("/metrics")
    assert r.status == 200, r
    for srv in (s1, s2, s3):
        assert re.search(rf'^codis_dashboard_server_backend_user\{{group="\d+",server="{srv.addr}"\}} 1$', r.text,
                         re.M), r.text


SCRIPTS = [
    "return redis.call('FLUSHALL')",
    "return redis.call('FLUSHDB')",
    "return redis.call('SWAPDB', 0, 1)",
    "return redis.call('MIGRATE', ARGV[1], ARGV[2], '', 0, 5000, 'COPY', 'KEYS', KEYS[1])",
    "return redis.call('SLOTSDEL', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
    "return redis.call('SLOTSRESTORE', KEYS[1], 0, 'x')",
    "return redis.call('SLOTSMGRTTAGSLOT', ARGV[1], ARGV[2], 5000, 0)",
    # allowed for the proxy's sync migration, but only toward the cluster's hosts
    "return redis.call('SLOTSMGRTTAGONE', '127.0.0.2', ARGV[2], 5000, KEYS[1])",
    "return redis.call('SLOTSMGRTSLOT-ASYNC', ARGV[1], ARGV[2], 5000, 200, 1000000, 0, 100)",
    "return redis.call('SLOTSRESTORE-ASYNC-AUTH', 'x')",
    "return redis.call('CONFIG', 'SET', 'maxmemory', '1')",
    "return redis.call('CONFIG', 'GET', 'requirepass')",
    "return redis.call('SHUTDOWN', 'NOSAVE')",
    "return redis.call('REPLICAOF', ARGV[1], ARGV[2])",
    "return redis.call('DEBUG', 'SLEEP', '0')",
    "return redis.call('ACL', 'SETUSER', 'codis-proxy', '+@all')",
    "return redis.call('MODULE', 'LIST')",
    "return redis.call('BGSAVE')",
]


def test_scripts_cannot_run_admin_commands(cluster):
    p, outside = cluster.proxy, cluster.outside
    with p.conn() as c:
        keys = keys_in_slots(0, 1023, 100, "data")
        for k in keys:
            assert c.call("SET", k, k) == "OK"
        assert c.call("SELECT", 1) == "OK"
        assert c.call("SET", "in-db1", "1") == "OK"
    before = dbsizes(cluster)
    with cluster.servers[0].conn() as c:
        maxmemory = c.call("CONFIG", "GET", "maxmemory")
    k = next(k for k in keys if slot_of(k) < 512)
    with p.conn() as c:
        for script in SCRIPTS:
            r = c.call("EVAL", script, 1, k, "127.0.0.1", outside.port)
            assert isinstance(r, Err), (script, r)
            # Refused by the ACL, or (SHUTDOWN, SLOTSRESTORE-ASYNC-AUTH: no-auth commands escape ACLs) never
            # callable from a script at all.
            assert ("can't run this command" in r.message or "NOPERM" in r.message
                    or "not allowed from script" in r.message), (script, r)
        # A function library is loaded (FUNCTION LOAD is forwarded, as documented) but cannot do harm either.
        lib = "#!lua name=evil\nredis.register_function('evil', function(keys, args) return redis.call('FLUSHALL') end)"
        assert c.call("FUNCTION", "LOAD", "REPLACE", lib) == b"evil"
        r = c.call("FCALL", "evil", 1, k)
        assert isinstance(r, Err) and "can't run this command" in r.message, r
        assert c.call("FUNCTION", "DELETE", "evil") == "OK"
        # The proxy refuses these itself, as before.
        for cmd in (("FLUSHALL",), ("SWAPDB", 0, 1), ("CONFIG", "SET", "maxmemory", "1"), ("SLOTSDEL", 0),
                    ("MIGRATE", "127.0.0.1", outside.port, k, 0, 1000)):
            assert isinstance(c.call(*cmd), Err), cmd
    assert dbsizes(cluster) == before
    with outside.conn() as c:
        assert c.call("DBSIZE") == 0
    for s in cluster.servers:
        assert s.alive()
        with s.conn() as c:
            assert c.call("ROLE")[0] in (b"master", b"slave")
    with cluster.servers[0].conn() as c:
        assert c.call("CONFIG", "GET", "maxmemory") == maxmemory
    assert cluster.servers[2].conn().call("ROLE")[0] == b"slave"


def test_normal_traffic_works(cluster):
    p = cluster.proxy
    a, b = key_in_slot(3, "a"), key_in_slot(700, "b")
    with p.conn() as c:
        assert c.call("SET", a, "1") == "OK" and c.call("SET", b, "2") == "OK"
        assert c.call("MGET", a, b) == [b"1", b"2"]
        assert c.call("INCR", a) == 2
        assert c.call("EVAL", "return redis.call('GET', KEYS[1])", 1, b) == b"2"
        sha = c.call("SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])")
        assert c.call("EVALSHA", sha, 1, a) == 3
        lib = "#!lua name=good\nredis.register_function('good', function(keys, args) return redis.call('GET', keys[1]) end)"
        assert c.call("FUNCTION", "LOAD", "REPLACE", lib) == b"good"
        assert c.call("FCALL", "good", 1, b) == b"2"
        assert c.call("FUNCTION", "DELETE", "good") == "OK"
        assert c.call("MULTI") == "OK"
        assert c.call("INCR", a) == "QUEUED"
        assert c.call("GET", a) == "QUEUED"
        assert c.call("EXEC") == [4, b"4"]
        assert c.call("WATCH", b) == "OK" and c.call("UNWATCH") == "OK"
        dump = c.call("DUMP", a)
        copy = key_in_slot(4, "copy")
        assert c.call("RESTORE", copy, 0, dump, "REPLACE") == "OK"  # RESTORE is @dangerous, re-allowed
        assert c.call("GET", copy) == b"4"
        assert c.call("SORT", "nolist") == []
        assert c.call("KEYS", b) == [b.encode()]
        assert c.call("DBSIZE") > 0
        info = c.call("INFO", "keyspace")
        assert b"db0:keys=" in info, info
        assert c.call("SCAN", 0)[0] is not None
    # pub/sub through the restricted user
    with p.conn() as sub, p.conn() as pub:
        assert sub.call("SUBSCRIBE", "news")[0] == b"subscribe"
        wait_until(lambda: pub.call("PUBLISH", "news", "hi") == 1, 5, what="a subscriber on news")
        assert sub.read_reply(timeout=5) == [b"message", b"news", b"hi"]
    # blocking commands on a session's own connection
    q = key_in_slot(900, "q")
    with p.conn() as blocker, p.conn() as c:
        blocker.send("BLPOP", q, 5)
        assert c.call("LPUSH", q, "x") >= 0
        assert blocker.read_reply(timeout=10) == [q.encode(), b"x"]


def test_migration_during_traffic(cluster):
    """Slot migration keeps working: the dashboard migrates as the admin identity, the proxy forwards with
    SLOTSMGRT-EXEC-WRAPPER (allowed) as the restricted user."""
    d, p = cluster.dash, cluster.proxy
    keys = keys_in_slots(0, 15, 400, "mig")
    counters = {k: 0 for k in keys[:40]}
    errors = []
    stop = threading.Event()

    def writer():
        try:
            with p.conn(timeout=30) as c:
                i = 0
                while not stop.is_set():
                    k = keys[:40][i % 40]
                    r = c.call("INCR", k)
                    if r != counters[k] + 1:
                        errors.append(f"INCR {k}: {r!r}")
                        return
                    counters[k] = r
                    i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    with p.conn() as c:
        for k in keys[40:]:
            assert c.call("SET", k, k) == "OK"
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    d.ok("PUT", "/api/topom/slots/action/create-range/{x}/0/15/2")

    def done():
        acts = d.ok("GET", "/api/topom/stats/{x}")["slot_actions"]["actions"]
        return not {a["id"] for a in acts} & set(range(16))
    wait_until(done, 120, interval=0.2, what="slots 0-15 migrated")
    stop.set()
    t.join(30)
    assert not errors, errors[:5]
    assert sum(counters.values()) > 0
    with cluster.servers[1].conn() as c2, cluster.servers[0].conn() as c1:
        for k in keys[40:]:
            assert c2.call("GET", k) == k.encode()
            assert c1.call("EXISTS", k) == 0
        for k, v in counters.items():
            assert c2.call("GET", k) == str(v).encode()
    assert not any(cluster.unrestricted().values())
    # The proxy's wrapped commands ran on the source as the restricted user, none refused.
    with cluster.servers[0].conn() as c:
        stats = c.call("INFO", "commandstats").decode()
    m = re.search(r"cmdstat_slotsmgrt-exec-wrapper:calls=(\d+),.*rejected_calls=(\d+)", stats)
    assert m and int(m.group(1)) > 0 and int(m.group(2)) == 0, stats


def test_restarted_server_gets_the_user_again(cluster):
    s2, p = cluster.servers[1], cluster.proxy
    k = key_in_slot(800, "after-restart")
    s2.restart()
    wait_until(lambda: has_user(s2), 15, what="the dashboard re-provisions the restarted server")

    def restricted_again():
        with p.conn() as c:
            c.call("SET", k, "1")
        u = cluster.unrestricted()
        return u.get(s2.addr, 1) == 0
    wait_until(restricted_again, 30, interval=0.5,
               what=f"the proxy runs as {USER} on {s2.addr} again: {cluster.unrestricted()}")
    with s2.conn() as c:
        before = c.call("DBSIZE")
    with p.conn() as c:
        r = c.call("EVAL", "return redis.call('FLUSHALL')", 1, k)
    assert isinstance(r, Err), r
    with s2.conn() as c:
        assert c.call("DBSIZE") == before


def test_the_user_is_kept_across_a_restart(cluster):
    """A server with a config file gets the user written there (CONFIG REWRITE): after a restart it
    has the user from the start, so the proxies never run unrestricted there."""
    d, p = cluster.dash, cluster.proxy
    s = codis_server(cluster.tmp, password=AUTH, config_file=True).start()
    try:
        d.ok("PUT", "/api/topom/group/create/{x}/3")
        d.ok("PUT", f"/api/topom/group/add/{{x}}/3/{s.addr}")
        wait_until(lambda: f"user {USER} " in s.config_file.read_text(), 10, what="the user in redis.conf")
        assert re.search(r"provisioned the proxies' restricted user .*saved to its config file", d.tail(50000))
        # A server started from that file has the user at once: nothing provisions this one.
        copy = RedisServer(cluster.tmp, password=AUTH, config_file=True)
        copy.config_file.write_text(s.config_file.read_text())
        try:
            copy.start()
            with copy.conn() as c:
                rules = c.call("ACL", "GETUSER", USER)
            assert rules is not None
            flat = dict(zip(rules[0::2], rules[1::2]))
            assert "-flushall" in flat[b"commands"].decode() and "-config" in flat[b"commands"].decode(), flat
        finally:
            copy.stop()
    finally:
        d.ok("PUT", f"/api/topom/group/del/{{x}}/3/{s.addr}")
        d.ok("PUT", "/api/topom/group/remove/{x}/3")
        s.stop()
