"""Self-tests of the harness itself (no proxy needed): slot function, RESP
parser, redis-server lifecycle, the fake backend, Redis's own behaviour for
the cases the proxy must mimic."""

from __future__ import annotations

import socket

import pytest

from fake_backend import wrapper_reply
from harness import (Err, RespConn, Status, encode, free_port, hash_tag,
                     parse_reply, port_is_free, slot_of, xauth)


def test_slot_function_vectors():
    # same vectors as tests/unit/test_slot_hash.cpp
    assert slot_of("foo") == 289 and slot_of("bar") == 170 and slot_of("123456789") == 294
    assert slot_of("") == 0
    assert slot_of("{user1000}.following") == 870 == slot_of("user1000")
    assert hash_tag("foo{}bar") == b"" and slot_of("foo{}bar") == 0
    assert slot_of("{}{x}") == 0
    assert hash_tag("foo{bar") == b"foo{bar" and hash_tag("}{") == b"}{"
    assert hash_tag("a}b{c}") == b"c" and slot_of("a}b{c}") == 879
    assert hash_tag("x{a{b}c}") == b"a{b"
    assert slot_of(b"\x00a\x00") == 1012 and slot_of(b"\xff\xfe") == 150
    assert slot_of(b"k{\x00a\x00}v") == 1012 and slot_of(b"\x00{foo}") == 289


def test_xauth():
    import hashlib
    want = hashlib.sha256(b"Codis-XAuth-[p]-[a]-[t]").hexdigest()[:32]
    assert xauth("p", "a", "t") == want and len(want) == 32


def test_resp_parser():
    v, p = parse_reply(b"*5\r\n+OK\r\n-ERR bad thing\r\n:-7\r\n$3\r\na\r\n\r\n$-1\r\n")
    assert v == [Status("OK"), Err("ERR bad thing"), -7, b"a\r\n", None] and p > 0
    assert isinstance(v[0], Status) and v[0] != b"OK"
    assert parse_reply(b"$5\r\nabc")[1] == -1
    assert parse_reply(b"*2\r\n:1\r\n")[1] == -1
    assert parse_reply(b"*-1\r\n") == (None, 5)
    assert encode("SET", b"k\x00", 5) == b"*3\r\n$3\r\nSET\r\n$2\r\nk\x00\r\n$1\r\n5\r\n"
    assert Err("WRONGPASS x").code == "WRONGPASS"


def test_ports():
    p = free_port()
    assert 20000 <= p < 32768 and port_is_free(p)
    assert free_port() != p


def test_redis_lifecycle_and_exact_replies(make_redis):
    r = make_redis()
    with r.conn() as c:
        assert c.call("PING") == Status("PONG")
        assert c.call_raw("GET", "nokey") == b"$-1\r\n"
        assert c.call("GET") == Err("ERR wrong number of arguments for 'get' command")
        assert c.call("SELECT", 16) == Err("ERR DB index is out of range")
        c.send_raw(b"*0\r\n")
        assert c.call("PING") == Status("PONG")
    port = r.port
    r.kill()
    with pytest.raises(OSError):
        RespConn(port, timeout=1)
    r.start()
    assert r.alive()


def test_redis7_auth_errors(make_redis):
    """The texts the proxy mimics (Redis 7.0)."""
    r = make_redis(password="pw")
    with RespConn(r.port) as c:
        assert c.call("GET", "k") == Err("NOAUTH Authentication required.")
        assert c.call("PING") == Err("NOAUTH Authentication required.")
        bad = c.call("AUTH", "wrong")
        assert bad == Err("WRONGPASS invalid username-password pair or user is disabled.")
        assert c.call("AUTH", "pw") == Status("OK")
    r2 = make_redis()
    with RespConn(r2.port) as c:
        e = c.call("AUTH", "x")
        assert isinstance(e, Err) and e.code == "ERR", e


@pytest.mark.parametrize("payload", [b"*1\r\nfoo\r\n", b"*abc\r\n", b"*1\r\n$-5\r\n",
                                     b"*2\r\n$3\r\nSET\r\n$2147483648\r\n"])
def test_redis_protocol_errors(make_redis, payload):
    r = make_redis()
    with RespConn(r.port) as c:
        c.send_raw(payload)
        e = c.read_reply()
        assert isinstance(e, Err) and e.message.startswith("ERR Protocol error"), e
        assert c.wait_closed(3)


def test_fake_backend(fake_backend):
    fb = fake_backend()
    fb.script("SLOTSMGRT-EXEC-WRAPPER", [wrapper_reply(1, b"busy")], default=wrapper_reply(2, b":42\r\n"))
    fb.script("SLOTSMGRTTAGONE", [], default=b":1\r\n")
    with RespConn(fb.port) as c:
        assert c.call("PING") == Status("PONG")
        assert c.call("SELECT", 1) == Status("OK")
        assert c.call("slotsmgrt-exec-wrapper", "k", "GET", "k") == [1, b"busy"]
        assert c.call("SLOTSMGRT-EXEC-WRAPPER", "k", "INCR", "k") == [2, 42]
        assert c.call("SLOTSMGRTTAGONE", "127.0.0.1", 1, 100, "k") == 1
        assert isinstance(c.call("GET", "x"), Err)
    assert fb.received("SLOTSMGRT-EXEC-WRAPPER") == [
        [b"slotsmgrt-exec-wrapper", b"k", b"GET", b"k"], [b"SLOTSMGRT-EXEC-WRAPPER", b"k", b"INCR", b"k"]]
    assert [a[0] for a in fb.received_non_housekeeping()] == [
        b"slotsmgrt-exec-wrapper", b"SLOTSMGRT-EXEC-WRAPPER", b"SLOTSMGRTTAGONE", b"GET"]
