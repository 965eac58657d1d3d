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
