"""ZooKeeper ACLs with coordinator_auth (DESIGN section 5): every node the
coordinator creates carries the digest ACL of its user, /jodis also
world-readable; clients without the credentials (none, or a wrong password)
are refused; nodes left open by a cluster created before auth get our ACL
when first used; the ACL and the credentials survive a reconnect and a new
session."""

import base64
import hashlib
import os
import signal

from coordinator_shell import CoordinatorError, run_cli
from harness import wait_until  # tests/integration (on the path through zk_harness)

AUTH = "codis:Owner-Pa55word"
WRONG = "codis:Wr0ng-Pa55word"


def digest_entry(auth, perms="cdrwa"):
    """ZooKeeper's digest ACL entry of "user:password", computed independently
    of the C++ code: digest:user:base64(sha1(user:password))."""
    user = auth.split(":", 1)[0]
    b64 = base64.b64encode(hashlib.sha1(auth.encode()).digest()).decode()
    return f"digest:{user}:{b64}={perms}"


OURS = [digest_entry(AUTH)]
OURS_PUBLIC = sorted([digest_entry(AUTH), "world:anyone=r"])


def acl(zk_addr, path, auth=AUTH):
    r = run_cli("zookeeper", zk_addr, "acl", path, extra=("--auth", auth) if auth else ())
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.split())


def refused(reply, path):
    return reply.startswith("ERR") and "refused access" in reply and path in reply


def test_nodes_carry_the_digest_acl_and_outsiders_are_refused(zookeeper, shells):
    z = zookeeper.addr
    owner = shells("zookeeper", z, auth=AUTH)
    owner.create("/codis3/acl/topom", "t")
    owner.update("/codis3/acl/slots/slot-0001", "s1")
    owner.update("/codis3/acl/proxy/proxy-1", "p1")
    owner.ephemeral("/codis3/acl/lock", "l")
    owner.ephemeral("/jodis/acl/proxy-1", "j1")

    for path in ("/codis3", "/codis3/acl", "/codis3/acl/topom", "/codis3/acl/slots", "/codis3/acl/slots/slot-0001",
                 "/codis3/acl/proxy/proxy-1", "/codis3/acl/lock"):
        assert acl(z, path) == OURS, path
    for path in ("/jodis", "/jodis/acl", "/jodis/acl/proxy-1"):  # client discovery: readable by anyone
        assert acl(z, path) == OURS_PUBLIC, path

    anonymous = shells("zookeeper", z)
    wrong = shells("zookeeper", z, auth=WRONG)
    for c, why in ((anonymous, "coordinator_auth is not set"), (wrong, "does not match the ACL")):
        for line in ("read /codis3/acl/slots/slot-0001", "list /codis3/acl", "list /codis3/acl/proxy",
                     "update /codis3/acl/slots/slot-0001 evil", "create /codis3/acl/slots/slot-0002 evil",
                     "remove /codis3/acl/proxy/proxy-1",           # the proxy's registration
                     "update /codis3/acl/proxy/proxy-1 evil",
                     "remove /codis3/acl/lock", "ephemeral /codis3/acl/topom2 evil",
                     "update /jodis/acl/proxy-1 evil", "remove /jodis/acl/proxy-1",
                     "ephemeral /jodis/acl/proxy-evil evil"):
            reply = c.raw(line)
            assert reply.startswith("ERR") and "refused access" in reply and why in reply, (line, reply)
        # the jodis tree stays readable for client discovery
        assert c.read("/jodis/acl/proxy-1") == "j1"
        assert c.list("/jodis/acl") == ["proxy-1"]
    reply = wrong.raw("read /codis3/acl/topom")
    assert refused(reply, "/codis3") and "user 'codis'" in reply, reply

    # Nothing changed; the owner still does everything.
    assert owner.read("/codis3/acl/slots/slot-0001") == "s1"
    assert owner.read("/codis3/acl/proxy/proxy-1") == "p1"
    assert owner.list("/jodis/acl") == ["proxy-1"]
    owner.update("/codis3/acl/slots/slot-0001", "s2")
    owner.update_many(["/codis3/acl/slots/slot-0001", "/codis3/acl/slots/slot-0003"], "s3")
    assert acl(z, "/codis3/acl/slots/slot-0003") == OURS
    owner.remove("/codis3/acl/proxy/proxy-1")
    assert owner.read("/codis3/acl/proxy/proxy-1") is None

    # A one-shot client with the right credentials; the password is never logged.
    r = run_cli("zookeeper", z, "read", "/codis3/acl/topom", extra=("--auth", AUTH, "--log-level", "debug"))
    assert r.returncode == 0 and r.stdout == "t", r.stderr
    for c in (owner, wrong):
        for secret in ("Owner-Pa55word", "Wr0ng-Pa55word"):
            assert secret not in c.stderr()
    assert "Owner-Pa55word" not in r.stderr
    # Without credentials, a warning names coordinator_auth.
    assert "no coordinator_auth" in anonymous.stderr() and "no coordinator_auth" not in owner.stderr()


def test_open_nodes_of_an_older_cluster_get_our_acl_when_used(zk_factory, shells):
    z = zk_factory().addr  # a server of its own: /codis3 must not be protected yet
    legacy = shells("zookeeper", z)  # a cluster created before coordinator_auth was set
    legacy.create("/codis3/old/slots/slot-0000", "s0")
    legacy.create("/codis3/old/topom", "t")
    legacy.create("/jodis/old/proxy-0", "j0")
    assert acl(z, "/codis3/old", auth=None) == ["world:anyone=cdrwa"]
    assert acl(z, "/codis3/old/slots/slot-0000", auth=None) == ["world:anyone=rwa"]
    # A node with an operator's own ACL (another digest user) is not ours to change.
    legacy.create("/codis3/old/custom", "c")
    ops_acl = digest_entry("ops:Ops-Pa55word")
    r = run_cli("zookeeper", z, "setacl", "/codis3/old/custom", ops_acl)
    assert r.returncode == 0, r.stderr
    legacy.close()

    owner = shells("zookeeper", z, auth=AUTH)
    assert owner.read("/codis3/old/slots/slot-0000") == "s0"
    for path in ("/codis3", "/codis3/old", "/codis3/old/slots", "/codis3/old/slots/slot-0000"):
        assert acl(z, path) == OURS, path
    assert acl(z, "/codis3/old/topom", auth=None) == ["world:anyone=rwa"]  # not used yet
    assert owner.list("/codis3/old") == ["custom", "slots", "topom"]
    assert owner.read("/codis3/old/topom") == "t"
    assert acl(z, "/codis3/old/topom") == OURS
    assert owner.read("/jodis/old/proxy-0") == "j0"
    for path in ("/jodis", "/jodis/old", "/jodis/old/proxy-0"):
        assert acl(z, path) == OURS_PUBLIC, path

    reply = owner.raw("read /codis3/old/custom")
    assert refused(reply, "/codis3/old/custom") and "does not match" in reply, reply
    assert acl(z, "/codis3/old/custom", auth="ops:Ops-Pa55word") == [ops_acl]

    anonymous = shells("zookeeper", z)
    assert refused(anonymous.raw("read /codis3/old/slots/slot-0000"), "/codis3")
    assert anonymous.read("/jodis/old/proxy-0") == "j0"
    # Logged once, naming the user and not the password.
    log = owner.stderr()
    assert log.count("had an open ACL") == 1 and "user 'codis'" in log and "Owner-Pa55word" not in log


def test_acl_and_credentials_survive_reconnect_and_session_expiry(zk_factory, shells):
    zk = zk_factory()
    z = zk.addr
    owner = shells("zookeeper", z, auth=AUTH, timeout_ms=2000)
    owner.create("/codis3/exp/slots/slot-0000", "s0")
    owner.ephemeral("/codis3/exp/topom", "lock")
    owner.ephemeral("/jodis/exp/proxy-1", "j1")

    # Reconnect (server restart): the C client sends the credentials again.
    zk.restart()
    assert owner.retry(lambda: owner.read("/codis3/exp/slots/slot-0000"), timeout=30) == "s0"

    # Session expiry: the owner is frozen past its session timeout; the server
    # drops its ephemeral nodes; once thawed it opens a new session,
    # authenticates again and re-creates them with the same ACL.
    watcher = shells("zookeeper", z, auth=AUTH)
    assert watcher.read("/jodis/exp/proxy-1") == "j1"
    os.kill(owner.proc.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: watcher.read("/jodis/exp/proxy-1") is None, timeout=20,
                   what="ephemeral node dropped with the expired session")
        assert watcher.read("/codis3/exp/topom") is None
    finally:
        os.kill(owner.proc.pid, signal.SIGCONT)
    wait_until(lambda: watcher.read("/jodis/exp/proxy-1") == "j1" and watcher.read("/codis3/exp/topom") == "lock",
               timeout=30, what="ephemeral nodes re-created on a new session")
    assert "new session" in owner.stderr()
    assert acl(z, "/codis3/exp/topom") == OURS
    assert acl(z, "/jodis/exp/proxy-1") == OURS_PUBLIC
    assert owner.retry(lambda: owner.read("/codis3/exp/slots/slot-0000")) == "s0"  # authenticated again
    owner.update("/codis3/exp/slots/slot-0000", "s1")

    anonymous = shells("zookeeper", z)
    assert refused(anonymous.raw("remove /codis3/exp/topom"), "/codis3/exp/topom")
    assert anonymous.read("/jodis/exp/proxy-1") == "j1"


def test_auth_must_be_user_colon_password(zookeeper):
    r = run_cli("zookeeper", zookeeper.addr, "read", "/x", extra=("--auth", "nocolon-Secret"))
    assert r.returncode == 1 and "user:password" in r.stderr and "nocolon-Secret" not in r.stderr


def test_unauthenticated_reads_of_protected_nodes_fail_cleanly(zookeeper, shells):
    """A client without credentials gets an error per call, keeps its session
    and can still use open nodes (no crash, no reconnect loop)."""
    z = zookeeper.addr
    shells("zookeeper", z, auth=AUTH).create("/codis3/clean/topom", "t")
    c = shells("zookeeper", z)
    for _ in range(3):
        assert refused(c.raw("read /codis3/clean/topom"), "/codis3")
    c.create("/elsewhere/x", "y")
    assert c.read("/elsewhere/x") == "y"
    assert c.proc.poll() is None
    try:
        c.watch_data("/codis3/clean/topom")  # exists-watches need no permission
    except CoordinatorError as e:
        raise AssertionError(f"watch refused: {e}") from None
