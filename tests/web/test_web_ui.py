"""The operator UI in real headless Chromium against a real cluster:
ZooKeeper, 3 redis-servers with codis_slots (+1 without), 2 codis-proxy, a
Sentinel, and codis-dashboard serving web-fe/dist.

Every scenario signs in first (as admin with the admin secret, or as an
operator from admin_users_file). Tests run in file order on one cluster,
each building on the previous one through the UI: the sign-in page (a wrong
password, the right one, sign out; a session that expires); the pages load empty; an action shows on
the Audit page; groups and servers are created and
proxies added through the forms (a refused call shows the dashboard's
message); slots are assigned by typed ranges; a range selected by dragging on
the slot map migrates to another group while the action table and progress
bar move and the map recolours (checked against /topom/slots); destructive
actions ask first; a sentinel is added and resynced; a proxy killed with
SIGKILL turns unhealthy; every page is screenshotted at 1280x800. Each
browser step is a scenario of ui.mjs that prints JSON observations."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from types import SimpleNamespace

from harness import TEST_ADMIN_AUTH, RedisServer, encode, keys_in_slots
from dashboard_harness import dashboard_binary
from web_cluster import WebCluster, WebDashboard

HERE = Path(__file__).resolve().parent
PRODUCT = "codis-web-it"
MIGRATE = (0, 23)      # slots moved from group 1 to group 2 from the slot map
KEYS_PER_SLOT = 250
OPERATOR, OPERATOR_PASSWORD = "web-ops", "operator password for the web tests"


def operator_users_file(tmp):
    """admin_users_file with OPERATOR, its line made by codis-dashboard --hash-password."""
    p = subprocess.run([str(dashboard_binary()), "--hash-password", OPERATOR], input=OPERATOR_PASSWORD + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    path = Path(tmp) / "users"
    path.write_text(p.stdout)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, zookeeper):
    tmp = tmp_path_factory.mktemp("web")
    users = operator_users_file(tmp)
    c = WebCluster(tmp, zookeeper.addr, PRODUCT, servers=3, proxies=2, sentinel=True,
                   extra_config="migration_parallel_slots = 2\nmigration_async_numkeys = 50\n"
                                f'admin_users_file = "{users}"\n')
    c.plain = None
    try:
        c.plain = RedisServer(tmp).start()  # no codis_slots module: group/add refuses it
        yield c
    finally:
        if c.plain:
            c.plain.stop()
        c.close()


def ui(cluster, artifacts, scenario, timeout=150, **args):
    """Runs one ui.mjs scenario; returns its observations, fails with its error."""
    args.setdefault("password", TEST_ADMIN_AUTH)
    env = dict(os.environ, WEB_ARGS=json.dumps({"url": cluster.url + "/", "artifacts": str(artifacts), **args}))
    p = subprocess.Popen(["node", str(HERE / "ui.mjs"), scenario], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # node and the browser it started
        out, err = p.communicate()
        pytest.fail(f"ui.mjs {scenario} timed out after {timeout}s\n{err.decode(errors='replace')[-3000:]}")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # no browser left behind
        except ProcessLookupError:
            pass
    lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        pytest.fail(f"ui.mjs {scenario} rc={p.returncode}\nstdout: {out.decode(errors='replace')[-2000:]}\n"
                    f"stderr: {err.decode(errors='replace')[-3000:]}")
    r = json.loads(lines[-1])
    if not r["ok"]:
        pytest.fail(f"ui.mjs {scenario}: {r['error']}\nconsole errors: {r.get('console_errors')}\n"
                    f"page: {r.get('html_excerpt', '')[:1500]}\n{cluster.dash.tail(1500)}", pytrace=False)
    assert r["console_errors"] == [], f"{scenario}: console errors in the page: {r['console_errors']}"
    return r


def stats(cluster):
    return cluster.dash.ok("GET", "/api/topom/stats/{x}")


def test_dashboard_serves_the_ui(cluster):
    d = cluster.dash
    r = d.get("/")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert b'<div id="app">' in r.body and b"assets/" in r.body
    asset = next(p for p in (Path(cluster.dash.assets_dir) / "assets").iterdir() if p.suffix == ".js")
    a = d.get(f"/assets/{asset.name}")
    assert a.status == 200 and a.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in a.headers["Cache-Control"] and a.body == asset.read_bytes()
    for bad in ("/assets/..%2Findex.html", "/assets/.hidden", "/assets/nope.js", "/..%2F..%2Fetc%2Fpasswd",
                "/assets/%2e%2e"):
        assert d.get(bad).status == 404, bad
    # The API keeps its routes next to the UI's.
    assert d.get("/topom").json()["model"]["product_name"] == PRODUCT
    assert d.get("/metrics").status == 200
    assert d.get("/api/topom/model").json()["product_name"] == PRODUCT


def test_dashboard_without_a_built_ui(cluster, zookeeper, tmp_path):
    empty = tmp_path / "no-ui"
    empty.mkdir()
    d = WebDashboard(tmp_path, "codis-web-noui", zookeeper.addr, assets_dir=empty).start()
    try:
        r = d.get("/")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "not built" in r.text and "deploy/build.sh" in r.text and "--assets-dir" in r.text
        assert d.get("/assets/index.js").status == 404
        assert d.get("/topom").json()["model"]["product_name"] == "codis-web-noui"
        assert "no index.html in --assets-dir" in d.log()
    finally:
        d.stop()
    # A directory that does not exist is refused at start.
    bad = subprocess.run([str(dashboard_binary()), "--config", str(d.config_file), "--assets-dir",
                          str(tmp_path / "missing")], capture_output=True, timeout=30)
    assert bad.returncode != 0 and b"--assets-dir" in bad.stderr and b"no such directory" in bad.stderr


def test_sign_in_page(cluster, artifacts):
    r = ui(cluster, artifacts, "signin")
    assert r["h1_signed_out"] == "Sign in" and r["focused"] == "signin-password"
    assert r["compat_banner_signed_out"] == 0 and r["compat_banner"] == 0
    assert r["bad_password_error"] == "wrong user name or password" and r["error_role"] == "alert"
    assert r["password_cleared"]
    assert r["user_shown"] == "admin" and r["after_reload_user"] == "admin"
    assert r["product"] == PRODUCT
    assert r["cookie_visible_to_js"] is False  # HttpOnly
    assert r["after_sign_out_note"] == "Signed out."
    assert r["after_sign_out_status"] == 401
    # The server saw it all: the failed and the good sign-in, the sign-out.
    log = cluster.dash.ok("GET", "/api/topom/audit")
    logins = [(e["user"], e["ok"]) for e in log if e["route"] == "/api/auth/login"]
    assert ("admin", False) in logins and ("admin", True) in logins
    assert any(e["route"] == "/api/auth/logout" and e["user"] == "admin" and e["ok"] for e in log)


def test_pages_load_on_an_empty_cluster(cluster, artifacts):
    r = ui(cluster, artifacts, "pages", prefix="empty")
    for route, title in (("overview", "Overview"), ("proxies", "Proxies"), ("groups", "Groups"),
                         ("slots", "Slots"), ("sentinels", "Sentinels")):
        page = r["pages"][route]
        assert page["h1"] == title and page["current"] == title and page["cards"] >= 1, page
        assert page["product"] == PRODUCT
        assert page["width"] <= 1280, f"{route} scrolls horizontally at 1280x800: {page['width']}"
    assert r["pages"]["slots"]["slots"] == 1024
    assert r["keyboard_nav"] == "groups"  # reached by Tab, followed with Enter
    assert r["focus_after_nav"] == "H1"   # focus moves to the new page's heading


def test_audit_page_as_an_operator(cluster, artifacts):
    r = ui(cluster, artifacts, "audit", user=OPERATOR, password=OPERATOR_PASSWORD, interval=1234)
    row = r["row"]
    assert row["user"] == OPERATOR and row["ok"] == "true", row
    time_, user, remote, action, result = row["cells"]
    assert user == OPERATOR and remote.startswith("127.0.0.1:") and result.startswith("ok")
    assert action == "PUT /api/topom/slots/action/interval/1234"
    assert r["first_route"] == "/api/topom/slots/action/interval/:xauth/1234"  # newest first
    assert r["sign_in_rows"] >= 1 and r["filtered_rows"] == 1
    assert r["keyboard_nav"] == "audit"
    assert stats(cluster)["slot_action"]["interval"] == 1234
    cluster.dash.ok("PUT", "/api/topom/slots/action/interval/{x}/0")


def test_compat_warning_banner(zookeeper, artifacts, tmp_path):
    d = WebDashboard(tmp_path, "codis-web-compat", zookeeper.addr, extra_config="admin_compat_xauth = true\n").start()
    try:
        r = ui(SimpleNamespace(url=d.url, dash=d), artifacts, "compat")
        for banner in (r["signin_banner"], r["page_banner"]):
            assert "admin_compat_xauth is on" in banner
            assert "anyone who can reach this port can administer the cluster" in banner
    finally:
        d.stop()


def test_expired_session_returns_to_the_sign_in_page(zookeeper, artifacts, tmp_path):
    d = WebDashboard(tmp_path, "codis-web-expiry", zookeeper.addr, extra_config='admin_session_lifetime = "5s"\n').start()
    try:
        r = ui(SimpleNamespace(url=d.url, dash=d), artifacts, "expiry")
        assert r["signed_in_as"] == "admin"
        # The server's reason, or ours when the browser dropped the cookie first (its Max-Age).
        assert r["note"] in ("the session expired after 5s: sign in again", "The session ended: sign in again."), r

    finally:
        d.stop()


def test_create_groups_servers_and_proxies(cluster, artifacts):
    s0, s1, s2 = cluster.servers
    r = ui(cluster, artifacts, "setup",
           groups=[{"gid": 1, "servers": [s0.addr, s2.addr]}, {"gid": 2, "servers": [s1.addr]},
                   {"gid": 3, "servers": []}],
           bad_server=cluster.plain.addr,
           proxies=[p.admin_url[7:] for p in cluster.proxies])
    assert r["groups"] == [1, 2, 3]
    # The refused calls show the dashboard's own Cause.
    cause = cluster.dash.err("PUT", "/api/topom/group/create/{x}/1")
    assert "already exists" in cause
    assert r["duplicate_error"]["cause"] == cause, r["duplicate_error"]   # the Cause itself, not the raw body
    assert r["duplicate_error"]["what"].startswith("Create group 1"), r["duplicate_error"]
    bad = cluster.dash.err("PUT", f"/api/topom/group/add/{{x}}/1/{cluster.plain.addr}")
    assert "codis_slots" in bad and r["bad_server_error"]["cause"] == bad, r["bad_server_error"]
    st = stats(cluster)
    groups = {g["id"]: [s["server"] for s in g["servers"]] for g in st["group"]["models"]}
    assert groups == {1: [s0.addr, s2.addr], 2: [s1.addr], 3: []}
    assert sorted(p["admin_addr"] for p in st["proxy"]["models"]) == sorted(p.admin_url[7:] for p in cluster.proxies)
    assert r["proxies"] == 2


def test_assign_slots(cluster, artifacts):
    r = ui(cluster, artifacts, "assign", ranges=[{"beg": 0, "end": 511, "gid": 1}, {"beg": 512, "end": 1023, "gid": 2}])
    assert r["map"] == {"1": 512, "2": 512}
    slots = cluster.dash.get("/topom/slots").json()
    s0, s1, _ = cluster.servers
    assert all(s["backend_addr"] == (s0.addr if s["id"] < 512 else s1.addr) for s in slots)
    # Both proxies route by it: a key per group reads back through either.
    for p in cluster.proxies:
        with p.conn() as c:
            assert c.call("SET", "web:probe", "1") == "OK"


def test_keyboard_range_selection(cluster, artifacts):
    r = ui(cluster, artifacts, "keyboard")
    assert r["range"] == ["3", "36"], r
    assert r["selected"] == 34
    assert "Slots 3–36 (34 slots)" in r["summary"]
    assert r["focus_visible"] not in ("", "none")


def test_migrate_a_range_from_the_slot_map(cluster, artifacts):
    beg, end = MIGRATE
    n = end - beg + 1
    keys = keys_in_slots(beg, end, KEYS_PER_SLOT * n, "webmig")
    cluster.fill_keys(cluster.proxies[0], keys)
    r = ui(cluster, artifacts, "migrate", beg=beg, end=end, gid=2, interval=50000)
    assert r["selected_range"] == [str(beg), str(end)] and r["selected_slots"] == n
    assert r["pending_rows"] == n and r["pending_on_map"] == n
    assert r["keys_left_pending"] > 0 or max(r["keys_left_seen"]) > 0, r
    assert "migrating" in r["states_seen"], r["states_seen"]
    assert any(0 < p < 100 for p in r["progress_seen"]), f"no intermediate progress seen: {r['progress_seen']}"
    assert max(r["keys_left_seen"]) > min(r["keys_left_seen"]), r["keys_left_seen"]
    assert len(r["moved_seen"]) > 2, f"the map did not recolour slot by slot: {r['moved_seen']}"
    assert r["final_progress"] == "100" and r["final_map"] == {"2": n}
    # The dashboard agrees, and no key was lost.
    slots = cluster.dash.get("/topom/slots").json()
    assert all(slots[i]["backend_addr_group_id"] == 2 and not slots[i].get("locked") for i in range(beg, end + 1))
    st = stats(cluster)
    assert st["slot_action"]["interval"] == 50000 and st["slot_action"]["disabled"] is False
    with cluster.proxies[1].conn(timeout=30) as c:
        sample = keys[:: max(1, len(keys) // 200)]
        assert all(c.call("EXISTS", k) == 1 for k in sample)
    with cluster.servers[1].conn() as c:
        assert c.call("DBSIZE") >= len(keys)
    cluster.dash.ok("PUT", "/api/topom/slots/action/interval/{x}/0")


def test_destructive_actions_ask_first(cluster, artifacts):
    r = ui(cluster, artifacts, "confirm", empty_gid=3, replica=cluster.servers[2].addr,
           proxy=cluster.proxies[1].admin_url[7:])
    d = r["group_dialog"]
    assert d["title"] == "Remove group 3" and d["focused"] == "Cancel", d
    assert r["group_after_cancel"] == 1 and r["group_after_escape"] == 1 and r["group_removed"]
    assert r["promote_dialog"]["title"] == "Promote replica"
    assert r["del_server_dialog"]["title"] == "Remove server"
    assert r["replica_after_cancel"] == 1
    assert r["proxy_dialog"]["title"] == "Remove proxy" and r["proxy_dialog"]["checkbox"]
    assert r["proxy_after_cancel"] == 1
    assert r["rebalance_dialog"]["title"] == "Rebalance slots"
    st = stats(cluster)
    assert sorted(g["id"] for g in st["group"]["models"]) == [1, 2]      # only the confirmed removal happened
    assert [s["server"] for s in next(g for g in st["group"]["models"] if g["id"] == 1)["servers"]] == \
        [cluster.servers[0].addr, cluster.servers[2].addr]
    assert len(st["proxy"]["models"]) == 2
    assert not st["slot_actions"]["actions"]                           # rebalance was cancelled


def test_sentinels_page(cluster, artifacts):
    r = ui(cluster, artifacts, "sentinels", sentinel=cluster.sentinel.addr, masters=2)
    assert r["resync_dialog"]["title"] == "Resync sentinels"
    assert sorted(r["masters"]) == [f"{PRODUCT}-1", f"{PRODUCT}-2"]
    assert stats(cluster)["sentinels"]["model"]["servers"] == [cluster.sentinel.addr]


def test_killed_proxy_turns_unhealthy(cluster, artifacts):
    victim = cluster.proxies[1]
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)
    r = ui(cluster, artifacts, "proxy_down", proxy=victim.admin_url[7:])
    assert r["health"] in ("error", "timeout") and r["badge"] in ("error", "timeout")
    assert r["others"] == ["ok"]
    assert victim.admin_url[7:] in r["alert"]


class Load(threading.Thread):
    """Steady GET/SET through a proxy, so the QPS chart has something to show."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.proxy, self.stop, self.ops = proxy, threading.Event(), 0

    def run(self):
        with self.proxy.conn(timeout=10) as c:
            while not self.stop.is_set():
                c.send_raw(b"".join(encode("SET", f"load:{i}", i) + encode("GET", f"load:{i}") for i in range(50)))
                for _ in range(100):
                    c.read_reply(timeout=10)
                self.ops += 100
                time.sleep(0.005)


def test_every_page_with_a_populated_cluster(cluster, artifacts):
    load = Load(cluster.proxies[0])
    load.start()
    try:
        time.sleep(2.5)  # two stats polls: the proxy's QPS is non-zero
        r = ui(cluster, artifacts, "pages", prefix="page")
    finally:
        load.stop.set()
        load.join(15)
    assert load.ops > 0
    assert r["qps"] > 0 and r["chart_points"] >= 2, r
    assert r["pages"]["slots"]["slots"] == 1024
    for route, page in r["pages"].items():
        assert page["width"] <= 1280, f"{route} scrolls horizontally at 1280x800: {page['width']}"
    shots = {Path(p).name for p in r["screenshots"]}
    assert {f"page-{x}.png" for x in ("overview", "proxies", "groups", "slots", "sentinels")} <= shots
