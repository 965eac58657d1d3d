"""Fixtures for the browser tests of the operator UI (web-fe/): a real
ZooKeeper, redis-servers with codis_slots, codis-proxy processes, a Sentinel
and codis-dashboard serving web-fe/dist, driven by headless Chromium
(/usr/bin/chromium) through playwright-core (web-fe/node_modules).

Needs the UI built: deploy/build.sh (tests/run.sh runs it first) does
`npm ci` and `npm run build` in web-fe/. Screenshots of every page go to
$CODIS_TEST_ARTIFACTS (default tests/web/artifacts/)."""

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for sub in ("coordinator", "dashboard", "integration"):
    sys.path.insert(0, str(REPO / "tests" / sub))
sys.path.insert(0, str(HERE))

from zk_harness import zookeeper  # noqa: E402,F401 (the fixture)

WEB_FE = REPO / "web-fe"
CHROMIUM = "/usr/bin/chromium"


def _prerequisites():
    problems = []
    if not (WEB_FE / "dist" / "index.html").exists():
        problems.append(f"the web UI is not built ({WEB_FE / 'dist' / 'index.html'} is missing)")
    if not (WEB_FE / "node_modules" / "playwright-core" / "package.json").exists():
        problems.append(f"playwright-core is not installed ({WEB_FE / 'node_modules'}: run npm ci there)")
    if not shutil.which("node"):
        problems.append("node is not installed (deploy/install-deps.sh)")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing (deploy/install-deps.sh installs Debian's chromium)")
    return problems


@pytest.fixture(scope="session", autouse=True)
def web_prerequisites():
    problems = _prerequisites()
    if problems:
        pytest.fail("tests/web cannot run: " + "; ".join(problems) +
                    ". Run deploy/build.sh (it builds web-fe/ with npm ci && npm run build).", pytrace=False)


@pytest.fixture(scope="session")
def artifacts():
    d = Path(os.environ.get("CODIS_TEST_ARTIFACTS") or HERE / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("failure-*.png"):  # from an earlier failed run
        old.unlink()
    return d

