"""Data plane security (issue 13): the proxy's backend identity and the
throttling of failed client AUTH.

- A proxy whose servers have no restricted user (nothing provisioned it)
  still works, authenticating with product_auth, but warns and shows it in
  /metrics; once the user appears it switches to it by itself. A user that
  exists but is not restricted is not trusted.
- Guessing session_auth is slowed down per connection and per source
  address, logged at a bounded rate and counted in /metrics."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time

import pytest

from harness import Err, Status, key_in_slot, slot_table, wait_until

pytestmark = pytest.mark.real_proxy

USER = "codis-proxy"
LABEL = b"codis-ng backend user password v1"


def derived_password(product_auth: str) -> str:
    """What common/src/backend_identity.cpp derives: HMAC-SHA256(product_auth, label), hex."""
    return hmac.new(product_auth.encode(), LABEL, hashlib.sha256).hexdigest()


def metric(proxy, name, labels=None) -> float:
    r = proxy.get("/metrics")
    assert r.status == 200, r
    total, seen = 0.0, False
    for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", r.text, re.M):
        if labels and not all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            continue
        total += float(m.group(2))
        seen = True
    return total if seen else -1


def one_group(addr):
    return slot_table({1: (addr, [(0, 1023)])})


def provision(server, rules):
    with server.conn() as c:
        assert c.call("ACL", "SETUSER", USER, "reset", "on",
                      "#" + hashlib.sha256(derived_password(server.password or "").encode()).hexdigest(),
                      "~*", "&*", *rules) == Status("OK")


def test_unprovisioned_backend_warns_then_switches(make_redis, make_proxy):
    r = make_redis(password="pa-secret")
    p = make_proxy(one_group(r.addr), {"product_auth": "pa-secret"})
    k = key_in_slot(1, "x")
    with p.conn() as c:
        assert c.call("SET", k, "1") == Status("OK")  # falls back to product_auth: traffic works
    wait_until(lambda: metric(p, "codis_proxy_backend_unrestricted", {"addr": r.addr}) >= 1, 10,
               what="codis_proxy_backend_unrestricted >= 1")
    wait_until(lambda: "unrestricted Redis identity" in p.tail(20000), 10, what="the warning in the log")
    assert "WRONGPASS" in p.tail(20000)  # names why: the user is not there

    # What the dashboard does: the user appears; the proxy retries on its own (1 s, doubling).
    provision(r, ["+@all", "-@admin", "-@dangerous"])
    wait_until(lambda: metric(p, "codis_proxy_backend_unrestricted", {"addr": r.addr}) == 0, 20,
               interval=0.25, what="the proxy switched to the restricted user")
    with r.conn() as c:
        assert f"user={USER}" in c.call("CLIENT", "LIST").decode()
        before = c.call("DBSIZE")
    with p.conn() as c:
        res = c.call("EVAL", "return redis.call('FLUSHALL')", 1, k)
        assert isinstance(res, Err), res
        assert c.call("GET", k) == b"1"
    with r.conn() as c:
        assert c.call("DBSIZE") == before


def test_cluster_wide_admin_runs_as_the_admin_identity_on_every_server(make_redis, make_proxy, tmp_path):
    """With restricted client connections, an +@admin proxy user's CONFIG SET and FLUSHALL still work:
    they go over the admin identity, to every server (a replica the routing table does not name too),
    while EVAL from the same user stays restricted."""
    m1, m2 = make_redis(password="pa4"), make_redis(password="pa4")
    rep = make_redis(password="pa4", extra=["--masterauth", "pa4"])
    with rep.conn() as c:
        assert c.call("REPLICAOF", "127.0.0.1", str(m1.port)) == Status("OK")
    for s in (m1, m2, rep):
        provision(s, ["+@all", "-@admin", "-@dangerous"])
    users = tmp_path / "users.acl"
    users.write_text("user default off\nuser ops on >ops-pw ~* &* +@all\n")
    p = make_proxy(slot_table({1: (m1.addr, [(0, 511)]), 2: (m2.addr, [(512, 1023)])}),
                   {"product_auth": "pa4", "users_file": str(users)})
    # In sync as the master sees it: its ROLE lists the replica (what the proxy asks), not only the replica's own.
    wait_until(lambda: rep.conn().call("ROLE")[3] == b"connected" and len(m1.conn().call("ROLE")[2]) == 1, 20,
               what="the replica is in sync")
    k1, k2 = key_in_slot(1, "a"), key_in_slot(600, "b")
    before = {s.port: s.conn().call("CONFIG", "GET", "maxmemory-policy") for s in (m1, m2, rep)}
    with p.conn() as c:
        assert c.call("AUTH", "ops", "ops-pw") == Status("OK")
        assert c.call("MSET", k1, "1", k2, "2") == Status("OK")
        assert metric(p, "codis_proxy_backend_unrestricted") == 0  # the client connections are restricted
        res = c.call("EVAL", "return redis.call('FLUSHALL')", 1, k1)
        assert isinstance(res, Err) and "can't run this command" in res.message, res
        assert c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == Status("OK")
        for s in (m1, m2, rep):
            assert s.conn().call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lfu"], s.addr
        assert c.call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lfu"]
        # The servers' passwords are neither handed out (not even to a `*` pattern) nor replaced.
        everything = c.call("CONFIG", "GET", "*")
        names = everything[0::2]
        assert b"maxmemory-policy" in names and b"requirepass" not in names and b"masterauth" not in names
        assert b"pa4" not in everything
        assert c.call("CONFIG", "GET", "requirepass") == []
        r = c.call("CONFIG", "SET", "maxmemory-policy", "noeviction", "requirepass", "mine")
        assert isinstance(r, Err) and "refused through the proxy" in r.message, r
        assert m1.conn().call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lfu"]
        assert c.call("FLUSHALL") == Status("OK")
        assert c.call("DBSIZE") == 0
    assert m1.conn().call("DBSIZE") == 0 and m2.conn().call("DBSIZE") == 0
    # Server-side proof of who did what: the admin work ran as the default user.
    clients = m1.conn().call("CLIENT", "LIST").decode()
    assert f"user={USER}" in clients and "user=default" in clients
    for s in (m1, m2, rep):
        assert s.conn().call("CONFIG", "SET", *before[s.port]) == Status("OK")


def test_unrestricted_user_is_not_trusted(make_redis, make_proxy):
    r = make_redis(password="pa2")
    provision(r, ["+@all"])  # the right name and password, but allowed everything
    p = make_proxy(one_group(r.addr), {"product_auth": "pa2"})
    with p.conn() as c:
        assert c.call("SET", "k", "1") == Status("OK")
    wait_until(lambda: metric(p, "codis_proxy_backend_unrestricted", {"addr": r.addr}) >= 1, 10,
               what="codis_proxy_backend_unrestricted >= 1")
    wait_until(lambda: "may run CONFIG" in p.tail(20000), 10, what="the warning names the unrestricted user")


def test_restricted_user_without_product_auth_fallback(make_redis, make_proxy):
    """A server whose default user is disabled: the restricted user alone is enough."""
    r = make_redis(password="pa3")
    provision(r, ["+@all", "-@admin", "-@dangerous"])
    with r.conn() as c:
        assert c.call("ACL", "SETUSER", "admin", "on", ">pa3-admin", "~*", "&*", "+@all") == Status("OK")
    with r.conn() as c:
        assert c.call("ACL", "SETUSER", "default", "off") == Status("OK")
    r.password = None  # the harness's conn() cannot AUTH as default any more
    p = make_proxy(one_group(r.addr), {"product_auth": "pa3"})
    with p.conn() as c:
        assert c.call("SET", "k", "1") == Status("OK")
        assert c.call("GET", "k") == b"1"
    assert metric(p, "codis_proxy_backend_unrestricted", {"addr": r.addr}) == 0


def test_backend_user_empty_is_reported(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"backend_user": ""})
    with p.conn() as c:
        assert c.call("SET", "k", "1") == Status("OK")
    wait_until(lambda: metric(p, "codis_proxy_backend_unrestricted", {"addr": r.addr}) >= 1, 10,
               what="codis_proxy_backend_unrestricted >= 1")
    assert "backend_user is empty" in p.tail(20000)


def test_bad_backend_user_is_refused_at_start(make_proxy):
    p = make_proxy(None, {"backend_user": "default"}, start=False)
    with pytest.raises((RuntimeError, TimeoutError)) as e:  # the harness wraps the exit in a TimeoutError
        p.start(wait=5)
    assert "backend_user" in str(e.value)


# ---------------------------------------------------------------------------
# AUTH throttling
# ---------------------------------------------------------------------------

def test_auth_bruteforce_is_throttled(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"session_auth": "the-right-one"})
    tries = 0
    with p.conn(timeout=10) as c:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            res = c.call("AUTH", f"guess-{tries}")
            assert isinstance(res, Err) and res.message.startswith("WRONGPASS"), res
            tries += 1
        # HELLO ... AUTH is the same door.
        res = c.call("HELLO", 2, "AUTH", "default", "guess-hello")
        assert isinstance(res, Err), res
    assert tries < 50, f"{tries} AUTH tries in 2 s"
    assert metric(p, "codis_proxy_auth_failures_total") >= tries + 1
    log = p.tail(50000)
    assert "AUTH failed" in log and "127.0.0.1" in log
    assert log.count("AUTH failed") <= 5  # bounded: one line per second at most
    assert "guess-" not in log  # never the password tried

    # The right password, from the same address, on a new connection: accepted within a bounded delay.
    with p.conn(timeout=10) as c:
        t0 = time.monotonic()
        assert c.call("AUTH", "the-right-one") == Status("OK")
        assert time.monotonic() - t0 < 6.0
        # Once authenticated, nothing else is slowed down.
        t0 = time.monotonic()
        for _ in range(200):
            assert c.call("PING") == Status("PONG")
        assert time.monotonic() - t0 < 2.0


def test_parallel_guessing_shares_the_address_budget(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr), {"session_auth": "right-two"})
    checked = []
    lock = threading.Lock()

    def guesser(n):
        wrong = 0
        with p.conn(timeout=15) as c:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.0:
                res = c.call("AUTH", f"g{n}")
                assert isinstance(res, Err), res
                if res.message.startswith("WRONGPASS"):
                    wrong += 1  # a password was checked; "too many" refusals check nothing
        with lock:
            checked.append(wrong)

    threads = [threading.Thread(target=guesser, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(checked) == 10
    assert sum(checked) < 100, f"{sum(checked)} passwords checked in 3 s over 10 connections"


def test_no_session_auth_no_throttle(make_redis, make_proxy):
    r = make_redis()
    p = make_proxy(one_group(r.addr))
    with p.conn() as c:
        t0 = time.monotonic()
        for _ in range(20):
            res = c.call("AUTH", "x")
            assert isinstance(res, Err) and "without any password configured" in res.message
        assert time.monotonic() - t0 < 2.0
        assert c.call("PING") == Status("PONG")
