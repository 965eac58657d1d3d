"""The web UI's sign-in against a real codis-dashboard (filesystem
coordinator): "admin" with the admin secret and an operator from
admin_users_file (made with --hash-password); the session cookie's
attributes; CSRF token and Origin checks on calls that change something;
sign-out; throttling of wrong passwords; the audit log (who, from where,
what, result) and who may read it; a users file open to others refused at
start."""

import os
import re
import subprocess

import pytest

from dashboard_harness import Dashboard, dashboard_binary
from harness import TEST_ADMIN_AUTH, http

PRODUCT = "codis-ui-auth"
OPERATOR, OPERATOR_PASSWORD = "ops", "correct horse battery staple"


def hash_line(name, password):
    p = subprocess.run([str(dashboard_binary()), "--hash-password", name], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def users_file(tmp, lines, mode=0o600):
    path = tmp / "users"
    path.write_text("# operators of the test dashboard\n" + "".join(line + "\n" for line in lines))
    os.chmod(path, mode)
    return path


def start_dashboard(tmp, extra=""):
    root = tmp / "coord"
    root.mkdir(exist_ok=True)
    return Dashboard(tmp, PRODUCT, str(root), coordinator_name="filesystem", extra_config=extra).start()


@pytest.fixture(scope="module")
def dash(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui-auth")
    users = users_file(tmp, [hash_line(OPERATOR, OPERATOR_PASSWORD)])
    d = start_dashboard(tmp, f'admin_users_file = "{users}"\n')
    yield d
    d.stop()


def login(d, user, password, headers=None):
    return http("POST", d.url + "/api/auth/login", {"user": user, "password": password}, auth=None,
                headers=headers)


class Session:
    """A signed-in browser, as far as the API can tell: its cookie and CSRF token."""

    def __init__(self, d, reply):
        assert reply.status == 200, reply
        self.d = d
        self.set_cookie = reply.headers.get_all("Set-Cookie")[0]
        self.cookie = self.set_cookie.split(";")[0]
        self.info = reply.json()
        self.csrf = self.info["csrf_token"]

    def call(self, method, path, csrf=True, headers=None):
        h = {"Cookie": self.cookie}
        if csrf:
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        return http(method, self.d.url + path.replace("{x}", self.d.xauth), None, auth=None, headers=h)


def test_hash_password_cli(tmp_path):
    line = hash_line("alice", "pw")
    assert re.fullmatch(r"alice:\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$\S+", line), line
    for bad in ("admin", "bad name"):
        p = subprocess.run([str(dashboard_binary()), "--hash-password", bad], input="pw\n", capture_output=True,
                           text=True, timeout=30)
        assert p.returncode != 0 and "--hash-password" in p.stderr and p.stdout == ""
    p = subprocess.run([str(dashboard_binary()), "--hash-password", "alice"], input="", capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0 and "no password" in p.stderr


def test_sign_in_as_admin_and_as_operator(dash):
    # Without a session the UI's reads are refused (no admin_compat_xauth).
    assert http("GET", dash.url + "/topom", auth=None).status == 401
    r = http("GET", dash.url + "/api/auth/session", auth=None)
    assert r.status == 401 and r.json()["compat_xauth"] is False

    s = Session(dash, login(dash, "admin", TEST_ADMIN_AUTH))
    attrs = [a.strip() for a in s.set_cookie.split(";")]
    assert re.fullmatch(r"codis_session=[A-Za-z0-9_-]{43}", attrs[0]), attrs
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"} <= set(attrs[1:]), attrs
    assert "Secure" not in attrs  # plain HTTP here
    assert s.info["user"] == "admin" and s.info["compat_xauth"] is False and len(s.csrf) == 43
    assert s.call("GET", "/topom", csrf=False).json()["model"]["product_name"] == PRODUCT
    me = s.call("GET", "/api/auth/session", csrf=False)
    assert me.status == 200 and me.json()["user"] == "admin" and me.json()["csrf_token"] == s.csrf

    op = Session(dash, login(dash, OPERATOR, OPERATOR_PASSWORD))
    assert op.info["user"] == OPERATOR and op.cookie != s.cookie
    assert op.call("GET", "/api/auth/session", csrf=False).json()["user"] == OPERATOR
    assert f'"{OPERATOR}" signed in from 127.0.0.1' in dash.log()


def test_mutating_calls_need_the_csrf_token_and_our_origin(dash):
    s = Session(dash, login(dash, OPERATOR, OPERATOR_PASSWORD))
    r = s.call("PUT", "/api/topom/group/create/{x}/5", csrf=False)
    assert r.status == 401 and "X-CSRF-Token" in r.json()["Cause"]
    r = s.call("PUT", "/api/topom/group/create/{x}/5", headers={"X-CSRF-Token": "forged"})
    assert r.status == 401
    r = s.call("PUT", "/api/topom/group/create/{x}/5", headers={"Origin": "http://evil.example"})
    assert r.status == 401 and "origin" in r.json()["Cause"]
    assert [g["id"] for g in dash.ok("GET", "/api/topom/stats/{x}")["group"]["models"]] == []  # nothing happened

    assert s.call("PUT", "/api/topom/group/create/{x}/5").status == 200
    assert s.call("PUT", "/api/topom/group/create/{x}/6", headers={"Origin": dash.url}).status == 200
    assert sorted(g["id"] for g in dash.ok("GET", "/api/topom/stats/{x}")["group"]["models"]) == [5, 6]
    # Bearer callers (codis-admin) need no CSRF token.
    dash.ok("PUT", "/api/topom/group/remove/{x}/6")
    # A sign-in from a foreign page is refused as well.
    r = login(dash, OPERATOR, OPERATOR_PASSWORD, headers={"Origin": "http://evil.example"})
    assert r.status == 403 and "Set-Cookie" not in r.headers


def test_sign_out_ends_the_session(dash):
    s = Session(dash, login(dash, "admin", TEST_ADMIN_AUTH))
    assert s.call("GET", "/topom", csrf=False).status == 200
    assert s.call("POST", "/api/auth/logout", csrf=False).status == 401  # a change: needs the token
    r = s.call("POST", "/api/auth/logout")
    assert r.status == 200
    cleared = r.headers.get_all("Set-Cookie")[0]
    assert cleared.startswith("codis_session=;") and "Max-Age=0" in cleared
    for path in ("/topom", "/api/auth/session", "/api/topom/audit"):
        assert s.call("GET", path, csrf=False).status == 401, path
    assert s.call("PUT", "/api/topom/group/create/{x}/7").status == 401


def test_audit_log(dash):
    s = Session(dash, login(dash, OPERATOR, OPERATOR_PASSWORD))
    assert s.call("PUT", "/api/topom/group/create/{x}/8").status == 200
    assert login(dash, OPERATOR, "wrong").status == 401
    assert http("PUT", dash.url + f"/api/topom/group/create/{dash.xauth}/9", auth=None).status == 401

    # Who may read it: signed-in users and the admin secret; nobody else.
    assert http("GET", dash.url + "/api/topom/audit", auth=None).status == 401
    assert http("GET", dash.url + "/api/topom/audit", auth="wrong").status == 401
    log = s.call("GET", "/api/topom/audit", csrf=False)
    assert log.status == 200
    entries = log.json()
    assert [e["unix_ms"] for e in entries] == sorted((e["unix_ms"] for e in entries), reverse=True)

    created = next(e for e in entries if e["route"] == "/api/topom/group/create/:xauth/8")
    assert created["user"] == OPERATOR and created["ok"] is True and created["result"] == "OK"
    assert created["method"] == "PUT" and re.fullmatch(r"127\.0\.0\.1:\d+", created["remote"])
    assert dash.xauth not in str(entries)  # the xauth is left out of the routes
    failed = next(e for e in entries if e["route"] == "/api/auth/login" and not e["ok"])
    assert failed["user"] == OPERATOR and failed["remote"] == "127.0.0.1" and "wrong" in failed["result"]
    signed = next(e for e in entries if e["route"] == "/api/auth/login" and e["ok"])
    assert signed["user"] == OPERATOR
    refused = next(e for e in entries if e["route"] == "/api/topom/group/create/:xauth/9")
    assert refused["user"] == "" and not refused["ok"] and refused["result"].startswith("refused:")
    csrf_refused = [e for e in entries if e["route"] == "/api/topom/group/create/:xauth/5" and not e["ok"]]
    assert csrf_refused, "the calls refused for their CSRF token are in the log"
    # The dashboard's log has one line per call, with who and from where, and never a password.
    log_text = dash.log()
    assert re.search(rf"API call PUT /api/topom/group/create/:xauth/8 by {OPERATOR} from 127\.0\.0\.1:\d+: OK", log_text)
    assert f'sign-in as "{OPERATOR}" refused: wrong password' in log_text
    assert OPERATOR_PASSWORD not in log_text and TEST_ADMIN_AUTH not in log_text


def test_wrong_passwords_are_throttled(tmp_path):
    d = start_dashboard(tmp_path)
    try:
        for _ in range(5):
            r = login(d, "admin", "guess")
            assert r.status == 401 and r.json()["Cause"] == "wrong user name or password"
        assert login(d, "admin", "guess").status == 401  # the 6th failure locks this address
        r = login(d, "admin", TEST_ADMIN_AUTH)
        assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
        assert "too many failed sign-ins" in r.json()["Cause"] and "Set-Cookie" not in r.headers
        assert 'address "127.0.0.1" locked for 1s after 6 failed attempts' in d.log()
        # The admin secret as a bearer still works meanwhile.
        d.ok("GET", "/api/topom/xping/{x}")
    finally:
        d.stop()


def test_users_file_open_to_others_is_refused(tmp_path):
    users = users_file(tmp_path, [f"{OPERATOR}:$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaA"], mode=0o644)
    root = tmp_path / "coord"
    root.mkdir()
    d = Dashboard(tmp_path, PRODUCT, str(root), coordinator_name="filesystem",
                  extra_config=f'admin_users_file = "{users}"\n')
    p = subprocess.run([str(dashboard_binary()), "--config", str(d.config_file)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "open to other users (mode 644): chmod 600 it" in p.stderr, p.stderr
    bad = users_file(tmp_path, ["ops:plaintext"])
    d.config_file.write_text(d.config_file.read_text().replace(str(users), str(bad)))
    p = subprocess.run([str(dashboard_binary()), "--config", str(d.config_file)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0 and "line 2: the password hash of \"ops\" is not an Argon2id string" in p.stderr, p.stderr


def test_default_config_documents_the_keys():
    text = subprocess.run([str(dashboard_binary()), "--default-config"], capture_output=True, text=True,
                          timeout=30).stdout
    for key in ('admin_users_file = ""', 'admin_session_lifetime = "12h"', 'admin_session_idle_timeout = "1h"'):
        assert key in text, key
    assert "--hash-password" in text
