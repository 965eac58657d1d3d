"""The filesystem coordinator across processes, through coordinator_cli:
Codis's fsclient layout on disk, an ephemeral node held by one process and
released when that process is killed, and a watch in another process."""

import os

from coordinator_shell import run_cli


def test_filesystem_across_processes(tmp_path, shells):
    root = str(tmp_path / "store")
    owner = shells("filesystem", root)
    other = shells("filesystem", root)
    wc = other.watch_children("/jodis/demo")
    owner.create("/codis3/demo/topom", '{\n    "token": "t"\n}')
    with open(os.path.join(root, "data/codis3/demo/topom")) as f:
        assert f.read() == '{\n    "token": "t"\n}'  # where Codis's fsclient looks
    owner.ephemeral("/jodis/demo/proxy-1", "p1")
    other.wait_event(wc, timeout=5)
    assert other.read("/jodis/demo/proxy-1") == "p1"
    r = run_cli("filesystem", root, "list", "/jodis/demo")
    assert r.returncode == 0 and r.stdout == "proxy-1\n"

    owner.kill()  # SIGKILL: no clean-up by the owner
    assert other.read("/jodis/demo/proxy-1") is None
    other.wait_event(wc, timeout=5)
    assert other.list("/jodis/demo") == []
    assert other.read("/codis3/demo/topom") == '{\n    "token": "t"\n}'


def test_filesystem_remove_if_unchanged(tmp_path, shells):
    root = str(tmp_path / "store")
    holder = shells("filesystem", root)
    c = shells("filesystem", root)
    holder.ephemeral("/codis3/demo/topom", "v1")
    assert c.remove_if("/codis3/demo/topom", "v0") is False  # other data: kept
    assert c.read("/codis3/demo/topom") == "v1"
    assert c.remove_if("/codis3/demo/topom", "v1") is True  # another process's ephemeral node
    assert c.read("/codis3/demo/topom") is None
    assert not os.listdir(os.path.join(root, "owners"))  # its owner record went with it
    assert c.remove_if("/codis3/demo/topom", "v1") is False  # absent
    c.create("/codis3/demo/dir/child", "x")
    reply = c.raw("remove-if /codis3/demo/dir ")
    assert reply.startswith("ERR") and "children" in reply, reply
    assert c.health() == {"session_losses": 0, "recreated": 0, "pending": 0}  # no sessions to lose
