"""Pub/sub through the proxy: channels live on the group their name hashes
to, patterns on every group; subscribed sessions behave as in Redis."""

from __future__ import annotations

import time

import pytest

from harness import Err, Status, key_in_slot, wait_until

pytestmark = pytest.mark.real_proxy

C1 = key_in_slot(30, "ch")     # a channel of group 1
C2 = key_in_slot(800, "ch")    # a channel of group 2


def _numsub(server, ch) -> int:
    with server.conn() as c:
        return c.call("PUBSUB", "NUMSUB", ch)[1]


def test_subscribe_publish_across_groups(cluster):
    with cluster.proxy.conn(timeout=5) as sub, cluster.proxy.conn() as pub:
        sub.send("SUBSCRIBE", C1, C2)
        assert sub.read_reply() == [b"subscribe", C1.encode(), 1]
        assert sub.read_reply() == [b"subscribe", C2.encode(), 2]
        # each channel is subscribed on its own group only
        assert _numsub(cluster.g1, C1) == 1 and _numsub(cluster.g2, C1) == 0
        assert _numsub(cluster.g2, C2) == 1 and _numsub(cluster.g1, C2) == 0
        assert pub.call("PUBLISH", C1, "m1") == 1
        assert pub.call("PUBLISH", C2, "m2") == 1
        assert pub.call("PUBLISH", "nobody", "x") == 0
        # Each group's messages reach the proxy on their own connection: the
        # order between channels of different groups is not kept (per channel it is).
        got = sorted([sub.read_reply(), sub.read_reply()])
        assert got == sorted([[b"message", C1.encode(), b"m1"], [b"message", C2.encode(), b"m2"]])
        # only subscribe-family commands, PING, QUIT and RESET in subscribed mode
        sub.send("GET", "k")
        r = sub.read_reply()
        assert isinstance(r, Err) and "only (P|S)SUBSCRIBE" in r.message
        sub.send("PING")
        assert sub.read_reply() == [b"pong", b""]
        sub.send("UNSUBSCRIBE", C1)
        assert sub.read_reply() == [b"unsubscribe", C1.encode(), 1]
        assert pub.call("PUBLISH", C1, "gone") == 0
        sub.send("UNSUBSCRIBE")
        assert sub.read_reply() == [b"unsubscribe", C2.encode(), 0]
        # back to normal mode
        assert sub.call("SET", C1, "normal") == Status("OK")
        assert pub.call("PUBSUB", "NUMSUB", C1, C2) == [C1.encode(), 0, C2.encode(), 0]


def test_patterns_see_every_group(cluster):
    with cluster.proxy.conn(timeout=5) as sub, cluster.proxy.conn() as pub:
        sub.send("PSUBSCRIBE", "ch*")
        assert sub.read_reply() == [b"psubscribe", b"ch*", 1]
        assert pub.call("PUBSUB", "NUMPAT") == 1
        assert pub.call("PUBLISH", C1, "a") == 1
        assert pub.call("PUBLISH", C2, "b") == 1
        got = sorted([sub.read_reply(), sub.read_reply()])  # two groups: no order between them
        assert got == sorted([[b"pmessage", b"ch*", C1.encode(), b"a"], [b"pmessage", b"ch*", C2.encode(), b"b"]])
        sub.send("SUBSCRIBE", C1)
        assert sub.read_reply() == [b"subscribe", C1.encode(), 2]
        assert pub.call("PUBLISH", C1, "both") == 2            # pattern + channel, as in Redis
        assert sorted(map(repr, [sub.read_reply(), sub.read_reply()])) == sorted(map(repr, [
            [b"pmessage", b"ch*", C1.encode(), b"both"], [b"message", C1.encode(), b"both"]]))
        assert sorted(pub.call("PUBSUB", "CHANNELS")) == [C1.encode()]
        sub.send("PUNSUBSCRIBE")
        assert sub.read_reply() == [b"punsubscribe", b"ch*", 1]


def test_subscriber_that_disconnects_is_released(cluster):
    sub = cluster.proxy.conn(timeout=5)
    sub.send("SUBSCRIBE", C1)
    assert sub.read_reply()[0] == b"subscribe"
    assert _numsub(cluster.g1, C1) == 1
    sub.close()
    wait_until(lambda: _numsub(cluster.g1, C1) == 0, 5, what="backend subscription released")


def test_messages_wait_behind_earlier_replies(cluster):
    with cluster.proxy.conn(timeout=5) as sub, cluster.proxy.conn() as pub:
        # a pipelined GET, then SUBSCRIBE: the GET's reply comes first
        sub.send_raw(b"*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$" +
                     str(len(C2)).encode() + b"\r\n" + C2.encode() + b"\r\n")
        assert sub.read_reply() is None
        assert sub.read_reply() == [b"subscribe", C2.encode(), 1]
        for i in range(100):
            pub.call("PUBLISH", C2, str(i))
        for i in range(100):
            assert sub.read_reply() == [b"message", C2.encode(), str(i).encode()]


def test_unsubscribe_when_not_subscribed(cluster):
    with cluster.proxy.conn() as c:
        assert c.call("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
        assert c.call("PUNSUBSCRIBE", "x") == [b"punsubscribe", b"x", 0]
        assert c.call("PING") == Status("PONG")


def test_sharded_pubsub(cluster):
    with cluster.proxy.conn(timeout=5) as sub, cluster.proxy.conn() as pub:
        sub.send("SSUBSCRIBE", C2)
        assert sub.read_reply() == [b"ssubscribe", C2.encode(), 1]
        assert pub.call("SPUBLISH", C2, "s") == 1
        assert sub.read_reply() == [b"smessage", C2.encode(), b"s"]
        assert pub.call("PUBSUB", "SHARDNUMSUB", C2) == [C2.encode(), 1]


def test_subscriber_follows_its_channel_to_another_group(make_redis, make_proxy):
    from harness import slot_of, two_group_slots
    g1, g2 = make_redis(), make_redis()
    slots = two_group_slots(g1.addr, g2.addr)
    proxy = make_proxy(slots)
    with proxy.conn(timeout=5) as sub, proxy.conn() as pub:
        sub.send("SUBSCRIBE", C1)
        assert sub.read_reply() == [b"subscribe", C1.encode(), 1]
        assert _numsub(g1, C1) == 1
        s = slot_of(C1)
        slots[s] = {"id": s, "backend_addr": g2.addr, "backend_addr_group_id": 2}
        proxy.fillslots([slots[s]])
        wait_until(lambda: _numsub(g2, C1) == 1 and _numsub(g1, C1) == 0, 5, what="subscription moved")
        assert pub.call("PUBLISH", C1, "after-move") == 1
        assert sub.read_reply() == [b"message", C1.encode(), b"after-move"]
        sub.send("PING")
        assert sub.read_reply() == [b"pong", b""]          # and nothing else arrived meanwhile
