"""Users at the proxy (users_file, proxy/src/acl.h): the ACL matrix.

The oracle is a real redis-server 7.0 loaded with the same ACL file (--aclfile): every
user runs the same commands against it and against a proxy in front of two groups, and
the replies must be equal (NOPERM and WRONGPASS texts included). Then what only the
proxy has: split and cluster-wide commands, reloads applied to live sessions (ACL LOAD,
SIGHUP, the admin API), session_auth as the default user's password.
"""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import pytest

from harness import Err, RespConn, Status, two_group_slots, wait_until, key_in_slots

pytestmark = pytest.mark.real_proxy

# Keys in both groups (slots 0-511 -> group 1, 512-1023 -> group 2).
APP1 = "app:" + key_in_slots(0, 511, "a")      # app:... in group 1
APP2 = "app:" + key_in_slots(512, 1023, "b")   # app:... in group 2
OTHER = "other:" + key_in_slots(512, 1023, "c")

USERS = {
    # name: (password, rules)
    "reader": ("r-pw", "on >r-pw ~* -@all +@read +@connection +acl|whoami"),
    "writer": ("w-pw", "on >w-pw ~* +@all -set -@dangerous -@admin"),
    "app": ("a-pw", "on >a-pw ~app:* &app:* +@all -@dangerous -@admin"),
    "split": ("s-pw", "on >s-pw %R~r:* %W~w:* ~app:* +@all -@dangerous"),
    "admin": ("ad-pw", "on >ad-pw ~* &* +@all"),
    "cfg": ("c-pw", "on >c-pw ~* -@all +config|get +ping"),
    "sel": ("x-pw", "on >x-pw ~* -@all +get +select|0"),
    "disabled": ("d-pw", "off >d-pw ~* +@all"),
    "nopass": ("", "on nopass ~* -@all +ping +acl|whoami"),
}


def acl_file_text(default="user default on nopass ~* &* +@all") -> str:
    lines = [default]
    for name, (_pw, rules) in USERS.items():
        lines.append(f"user {name} {rules}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def pair(cluster, make_redis, make_proxy, tmp_path):
    """A proxy and a reference redis-server with the same users file."""
    users = tmp_path / "users.acl"
    users.write_text(acl_file_text())
    oracle = make_redis(extra=["--aclfile", str(users)])
    proxy = make_proxy(two_group_slots(cluster.g1.addr, cluster.g2.addr), {"users_file": str(users)})
    return proxy, oracle, users


def login(port: int, user: str) -> RespConn:
    c = RespConn(port)
    pw = USERS[user][0]
    r = c.call("AUTH", user, pw or "anything")
    assert r == Status("OK"), (user, r)
    return c


def norm(reply):
    """Replies whose order the proxy does not keep (KEYS over two groups) are compared sorted."""
    if isinstance(reply, list):
        return sorted((norm(x) for x in reply), key=repr)
    return reply


# (user, command) pairs; each is run against both servers and the replies compared.
MATRIX = [
    ("reader", ["GET", APP1]),
    ("reader", ["SET", APP1, "v"]),
    ("reader", ["MGET", APP1, OTHER]),
    ("reader", ["DEL", APP1]),
    ("reader", ["PING"]),
    ("reader", ["FLUSHALL"]),
    ("reader", ["KEYS", "*"]),
    ("reader", ["DBSIZE"]),
    ("writer", ["SET", APP1, "v"]),
    ("writer", ["INCR", APP1 + "n"]),
    ("writer", ["GET", APP1 + "n"]),
    ("writer", ["FLUSHALL"]),
    ("writer", ["KEYS", "*"]),
    ("writer", ["CONFIG", "GET", "maxmemory"]),
    ("app", ["SET", APP1, "1"]),
    ("app", ["SET", OTHER, "1"]),
    ("app", ["GET", OTHER]),
    ("app", ["MGET", APP1, OTHER]),
    ("app", ["MSET", APP1, "1", OTHER, "2"]),
    ("app", ["DEL", APP1, APP2, OTHER]),
    ("app", ["EXISTS", APP1, OTHER]),
    ("app", ["PUBLISH", "app:news", "hi"]),
    ("app", ["PUBLISH", "other", "hi"]),
    ("app", ["SUBSCRIBE", "other"]),
    ("app", ["PSUBSCRIBE", "app:*x"]),
    ("app", ["EVAL", "return 1", "1", OTHER]),
    ("app", ["FLUSHALL"]),
    ("app", ["CONFIG", "SET", "maxmemory", "0"]),
    ("split", ["GET", "r:1"]),
    ("split", ["GET", "w:1"]),
    ("split", ["SET", "w:1", "v"]),
    ("split", ["SET", "w:1", "v", "GET"]),
    ("split", ["SET", "r:1", "v"]),
    ("split", ["EXISTS", "w:1"]),
    ("split", ["COPY", "r:{t}", "w:{t}"]),
    ("split", ["COPY", "w:{t}", "r:{t}"]),
    ("split", ["BITFIELD", "r:1", "GET", "u8", "0"]),
    ("split", ["BITFIELD", "w:1", "SET", "u8", "0", "1"]),
    ("cfg", ["CONFIG", "SET", "maxmemory", "0"]),
    ("cfg", ["GET", "x"]),
    ("sel", ["SELECT", "0"]),
    ("sel", ["SELECT", "1"]),
    ("sel", ["SET", "x", "1"]),
    ("admin", ["ACL", "WHOAMI"]),
    ("admin", ["ACL", "USERS"]),
    ("admin", ["ACL", "CAT"]),
    ("admin", ["ACL", "CAT", "nosuch"]),
    ("reader", ["ACL", "WHOAMI"]),
    ("reader", ["ACL", "LIST"]),
    ("reader", ["ACL", "USERS"]),
    ("reader", ["ACL", "LOAD"]),
    ("nopass", ["ACL", "WHOAMI"]),
    ("nopass", ["GET", "x"]),
]


def test_matrix_matches_redis(pair):
    proxy, oracle, _ = pair
    mismatches = []
    for user, cmd in MATRIX:
        with login(proxy.port, user) as p, login(oracle.port, user) as o:
            got, want = p.call(*cmd), o.call(*cmd)
            if norm(got) != norm(want):
                mismatches.append((user, cmd, got, want))
    assert not mismatches, "\n".join(f"{u} {c}: proxy {g!r} redis {w!r}" for u, c, g, w in mismatches)


def test_acl_cat_of_a_category_matches_redis(pair):
    proxy, oracle, _ = pair
    with login(proxy.port, "admin") as p, login(oracle.port, "admin") as o:
        for cat in ("read", "admin", "dangerous", "pubsub", "connection", "scripting", "keyspace"):
            assert sorted(p.call("ACL", "CAT", cat)) == sorted(o.call("ACL", "CAT", cat)), cat


def test_acl_list_matches_redis(pair):
    """ACL LIST: the same rules; Redis orders single-command rules by its hash table, so
    those lines are compared as sets of words."""
    proxy, oracle, _ = pair
    with login(proxy.port, "admin") as p, login(oracle.port, "admin") as o:
        got, want = p.call("ACL", "LIST"), o.call("ACL", "LIST")
    assert len(got) == len(want)
    for g, w in zip(sorted(got), sorted(want)):
        g, w = g.decode(), w.decode()
        assert g.split()[:2] == w.split()[:2]
        assert sorted(g.split()) == sorted(w.split()), (g, w)
    # Lines without single-command rules come out identical.
    assert b"user admin on #" + hashlib.sha256(b"ad-pw").hexdigest().encode() + b" ~* &* +@all" in got


def test_logins_as_redis_answers_them(pair):
    proxy, oracle, _ = pair
    cases = [
        ("AUTH", "reader", "wrong"),
        ("AUTH", "nosuchuser", "x"),
        ("AUTH", "disabled", "d-pw"),
        ("AUTH", "reader", "r-pw"),
        ("AUTH", "nopass", "whatever"),
        ("AUTH", "only-a-password"),   # the default user is nopass: Redis's own error
        ("HELLO", "2", "AUTH", "reader", "wrong"),
    ]
    for cmd in cases:
        with RespConn(proxy.port) as p, RespConn(oracle.port) as o:
            got, want = p.call(*cmd), o.call(*cmd)
            assert got == want, (cmd, got, want)
    with RespConn(proxy.port) as p:
        assert p.call("AUTH", "reader", "wrong") == Err(
            "WRONGPASS invalid username-password pair or user is disabled.")
        hello = p.call("HELLO", "2", "AUTH", "reader", "r-pw")
        assert isinstance(hello, list), hello
        assert p.call("ACL", "WHOAMI") == b"reader"
        assert p.call("SET", "k", "v") == Err("NOPERM this user has no permissions to run the 'set' command")
        # A failed AUTH keeps the current user (as Redis).
        assert p.call("AUTH", "admin", "wrong") == Err(
            "WRONGPASS invalid username-password pair or user is disabled.")
        assert p.call("ACL", "WHOAMI") == b"reader"


def test_denials_inside_multi_abort_the_transaction(pair):
    proxy, oracle, _ = pair
    for port in (proxy.port, oracle.port):
        with login(port, "app") as c:
            assert c.call("MULTI") == Status("OK")
            assert c.call("SET", OTHER, "1") == Err(
                "NOPERM this user has no permissions to access one of the keys used as arguments")
            r = c.call("EXEC")
            assert isinstance(r, Err) and r.code == "EXECABORT", r


def test_split_and_cluster_wide_commands(cluster, pair):
    proxy, _, _ = pair
    with login(proxy.port, "app") as c:
        assert c.call("MSET", APP1, "1", APP2, "2") == Status("OK")   # split over both groups
        assert c.call("MGET", APP1, APP2) == [b"1", b"2"]
        assert c.call("DEL", APP1, APP2, OTHER) == Err(
            "NOPERM this user has no permissions to access one of the keys used as arguments")
        assert c.call("DEL", APP1, APP2) == 2
        # KEYS and SCAN take patterns, not keys: allowed by the command rules alone, as in Redis.
        assert isinstance(c.call("SCAN", "0"), list)
        assert c.call("FLUSHALL") == Err("NOPERM this user has no permissions to run the 'flushall' command")
    cluster.g1.conn().call("SET", APP1, "x")
    cluster.g2.conn().call("SET", APP2, "x")
    with login(proxy.port, "admin") as c:
        # proxy_allow_flush is off: with users, the user's rights decide.
        assert c.call("FLUSHALL") == Status("OK")
        assert c.call("DBSIZE") == 0
    assert cluster.g1.conn().call("DBSIZE") == 0
    assert cluster.g2.conn().call("DBSIZE") == 0


def test_acl_load_applies_to_live_sessions(pair):
    proxy, _, users = pair
    live = login(proxy.port, "reader")
    assert live.call("SET", "k", "v") == Err("NOPERM this user has no permissions to run the 'set' command")
    gone = login(proxy.port, "writer")
    off = login(proxy.port, "app")
    admin = login(proxy.port, "admin")
    text = acl_file_text().replace("user reader on >r-pw ~* -@all +@read",
                                   "user reader on >r-pw ~* -@all +@read +@write")
    text = "\n".join(l for l in text.splitlines() if not l.startswith("user writer ")) + "\n"
    text = text.replace("user app on ", "user app off ")
    users.write_text(text)
    assert admin.call("ACL", "LOAD") == Status("OK")
    # Same connection, new rules; nobody logged in again.
    assert live.call("SET", "k", "v") == Status("OK")
    assert live.call("ACL", "WHOAMI") == b"reader"
    # The removed user's session is closed, as Redis closes them.
    r = gone.call("GET", "k")
    assert isinstance(r, Err)
    assert gone.wait_closed(5)
    # So is a session of a user the reload turned off.
    assert isinstance(off.call("GET", APP1), Err)
    assert off.wait_closed(5)
    # A file with an error changes nothing.
    users.write_text(text + "user broken on +@nosuch\n")
    r = admin.call("ACL", "LOAD")
    assert isinstance(r, Err)
    assert "Error in applying operation '+@nosuch'" in r.message
    assert r.message.endswith("WARNING: ACL errors detected, no change to the previously active ACL rules "
                              "was performed")
    assert live.call("SET", "k", "v2") == Status("OK")
    # Only users allowed to: ACL LOAD is @admin.
    assert live.call("ACL", "LOAD") == Err("NOPERM this user has no permissions to run the 'acl|load' command")
    for c in (live, gone, off, admin):
        c.close()


def test_reload_by_sighup_and_admin_api(pair):
    proxy, _, users = pair
    live = login(proxy.port, "cfg")
    assert live.call("GET", "x") == Err("NOPERM this user has no permissions to run the 'get' command")
    users.write_text(acl_file_text().replace("+config|get +ping", "+config|get +ping +get"))
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: live.call("GET", "x") is None, 5, what="SIGHUP reload")
    users.write_text(acl_file_text())
    r = proxy.put(f"/api/proxy/acl/reload/{proxy.xauth}")
    assert r.status == 200, r
    assert live.call("GET", "x") == Err("NOPERM this user has no permissions to run the 'get' command")
    # The route needs the admin secret.
    r = proxy.put(f"/api/proxy/acl/reload/{proxy.xauth}", auth=None)
    assert r.status >= 400, r
    live.close()


def test_session_auth_is_the_default_users_password(cluster, make_proxy):
    proxy = make_proxy(two_group_slots(cluster.g1.addr, cluster.g2.addr), {"session_auth": "codis-pw"})
    with RespConn(proxy.port) as c:
        assert c.call("GET", "x") == Err("NOAUTH Authentication required.")
        assert c.call("AUTH", "wrong") == Err("WRONGPASS invalid username-password pair or user is disabled.")
        assert c.call("AUTH", "codis-pw") == Status("OK")
        assert c.call("ACL", "WHOAMI") == b"default"
    with RespConn(proxy.port) as c:
        assert c.call("AUTH", "default", "codis-pw") == Status("OK")
        assert c.call("ACL", "LOAD") == Err(
            "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the "
            "ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file "
            "set) in order to store users in the Redis configuration.")
        users = c.call("ACL", "LIST")
        assert len(users) == 1 and users[0].startswith(b"user default on #")
        assert b"codis-pw" not in users[0]


def test_a_bad_users_file_stops_the_start(cluster, make_proxy, tmp_path):
    users = tmp_path / "bad.acl"
    users.write_text("user x on >pw +@nosuch\n")
    proxy = make_proxy(two_group_slots(cluster.g1.addr, cluster.g2.addr), {"users_file": str(users)}, start=False)
    with pytest.raises(Exception) as e:  # the harness reports the exit with the proxy's output
        proxy.start(wait=10)
    assert "+@nosuch" in str(e.value)


def test_acl_table_matches_redis(make_redis):
    """proxy/src/acl_commands.inc is what tools/gen_acl_commands.py makes from this redis-server."""
    root = Path(__file__).resolve().parents[2]
    committed = (root / "proxy" / "src" / "acl_commands.inc").read_text()
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_acl", root / "tools" / "gen_acl_commands.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    plain = make_redis()  # no module: only redis-server's own commands
    assert gen.render(gen.rows_from(gen.command_json(plain.port))) == committed


def test_cluster_wide_config_for_admins(cluster, pair):
    proxy, _, _ = pair
    g1, g2 = cluster.g1.conn(), cluster.g2.conn()
    before = g1.call("CONFIG", "GET", "maxmemory-policy")
    try:
        with login(proxy.port, "app") as c:
            assert c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == Err(
                "NOPERM this user has no permissions to run the 'config|set' command")
            assert c.call("CONFIG", "GET", "maxmemory-policy") == Err(
                "NOPERM this user has no permissions to run the 'config|get' command")
            assert c.call("CONFIG", "RESETSTAT") == Err(
                "NOPERM this user has no permissions to run the 'config|resetstat' command")
        with login(proxy.port, "admin") as c:
            assert c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") == Status("OK")
            assert g1.call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lru"]
            assert g2.call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lru"]
            # CONFIG GET comes from the servers now, not from the proxy's own table.
            assert c.call("CONFIG", "GET", "maxmemory-policy") == [b"maxmemory-policy", b"allkeys-lru"]
            assert c.call("CONFIG", "SET", "no-such-parameter", "1") == g1.call("CONFIG", "SET", "no-such-parameter", "1")
            for _ in range(200):
                g1.call("PING")
            assert c.call("CONFIG", "RESETSTAT") == Status("OK")
            stats = g1.call("INFO", "stats").decode()
            processed = int(stats.split("total_commands_processed:")[1].split()[0])
            assert processed < 200, processed
    finally:
        g1.call("CONFIG", "SET", *before)
        g2.call("CONFIG", "SET", *before)
        g1.close()
        g2.close()


def test_without_users_file_config_set_stays_refused(cluster):
    with cluster.proxy.conn() as c:
        r = c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        assert isinstance(r, Err) and r.message.startswith("ERR command 'CONFIG SET' is not allowed"), r
        assert c.call("CONFIG", "GET", "databases")[0] == b"databases"


def test_command_info_lists_redis_categories(cluster):
    with cluster.proxy.conn() as pc, cluster.direct.conn() as dc:
        for name in ("get", "set", "mget", "publish", "flushall", "keys"):
            assert pc.call("COMMAND", "INFO", name)[0][6] == dc.call("COMMAND", "INFO", name)[0][6], name
