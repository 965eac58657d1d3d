"""Run the same command list through the proxy and against a direct
redis-server and compare the replies (exact values, error text included)."""

from __future__ import annotations

from harness import Err, RespConn, Status, slot_of


class U(tuple):
    """A command whose array reply is unordered (sets): compared sorted."""


class Raw(tuple):
    """A command whose reply bytes must be identical on the wire."""


def _norm(cmd, reply):
    if isinstance(cmd, U) and isinstance(reply, list):
        return sorted(reply, key=repr)
    return reply


def run_and_compare(proxy_conn: RespConn, direct_conn: RespConn, commands, label=""):
    mismatches = []
    for cmd in commands:
        args = tuple(cmd)
        if isinstance(cmd, Raw):
            rp = proxy_conn.call_raw(*args)
            rd = direct_conn.call_raw(*args)
        else:
            rp = _norm(cmd, proxy_conn.call(*args))
            rd = _norm(cmd, direct_conn.call(*args))
        if rp != rd:
            mismatches.append(f"{' '.join(map(str, args))[:120]}\n    proxy:  {rp!r}"[:600]
                              + f"\n    direct: {rd!r}"[:400])
    assert not mismatches, f"{label}: {len(mismatches)} of {len(commands)} replies differ:\n" + \
        "\n".join(mismatches)


def all_keys(server, db: int = 0) -> set:
    with server.conn(db) as c:
        keys = set()
        cursor = b"0"
        while True:
            cursor, batch = c.call("SCAN", cursor, "COUNT", 1000)
            keys.update(batch)
            if cursor == b"0":
                return keys


def assert_placement(cluster, db: int = 0):
    """Every key the direct instance holds lives on exactly the backend of
    its slot's group, and the backends hold nothing else."""
    if getattr(cluster, "selfcheck", False):
        return
    want = all_keys(cluster.direct, db)
    have1, have2 = all_keys(cluster.g1, db), all_keys(cluster.g2, db)
    exp1 = {k for k in want if slot_of(k) < 512}
    exp2 = want - exp1
    problems = []
    if have1 != exp1:
        problems.append(f"group 1: missing {sorted(exp1 - have1)[:10]} extra {sorted(have1 - exp1)[:10]}")
    if have2 != exp2:
        problems.append(f"group 2: missing {sorted(exp2 - have2)[:10]} extra {sorted(have2 - exp2)[:10]}")
    assert not problems, "key placement differs from the slot map: " + "; ".join(problems)


__all__ = ["U", "Raw", "run_and_compare", "assert_placement", "all_keys", "Err", "Status"]
