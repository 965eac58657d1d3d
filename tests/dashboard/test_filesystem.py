"""codis-dashboard on the filesystem coordinator (the single-machine default):
Codis's fsclient layout on disk, and standby takeover when the holder dies."""

import json
import signal

from dashboard_harness import Dashboard
from harness import wait_until

PRODUCT = "codis-dash-fs"


def test_filesystem_layout_and_takeover(tmp_path):
    root = tmp_path / "coord"
    first = Dashboard(tmp_path, PRODUCT, str(root), coordinator_name="filesystem").start()
    second = None
    try:
        first.ok("PUT", "/api/topom/group/create/{x}/4")
        group = json.loads((root / "data" / "codis3" / PRODUCT / "group" / "group-0004").read_text())
        assert group == {"id": 4, "servers": [], "promoting": {}, "out_of_sync": False}
        lock = json.loads((root / "data" / "codis3" / PRODUCT / "topom").read_text())
        assert lock["pid"] == first.proc.pid

        second = Dashboard(tmp_path, PRODUCT, str(root), coordinator_name="filesystem").start(wait_active=False)
        wait_until(lambda: "standby" in second.log(), 15, what="standby")
        first.stop(signal.SIGKILL)
        second.wait_active(20)
        assert second.ok("GET", "/api/topom/stats/{x}")["group"]["models"][0]["id"] == 4
    finally:
        first.stop()
        if second:
            second.stop()
