// Browser scenarios for the operator UI, run by tests/web/test_web_ui.py.
//
//   node tests/web/ui.mjs SCENARIO   with WEB_ARGS='{"url": "http://127.0.0.1:PORT/", ...}'
//
// Drives the Debian chromium (headless, 1280x800) through playwright-core
// (installed in web-fe/node_modules by `npm ci`) against a real dashboard,
// and prints one JSON line: {"ok": true, ...observations} or {"ok": false,
// "error": "..."}. pytest asserts on it. Screenshots go to args.artifacts.
// Every wait has a deadline; a scenario never hangs.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'web-fe', 'package.json'));
const { chromium } = require('playwright-core');

const scenario = process.argv[2];
const args = JSON.parse(process.env.WEB_ARGS || '{}');
const base = args.url.endsWith('/') ? args.url : args.url + '/';
const artifacts = args.artifacts || path.join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const consoleErrors = [];
const result = { ok: true, scenario, screenshots: [] };

function fail(msg) {
  throw new Error(msg);
}

async function shot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file });
  result.screenshots.push(file);
}

// Signs in on the sign-in page (as args.user, default admin, with
// args.password) and waits until the UI shows the signed-in user.
async function signIn(page, user = args.user || 'admin', password = args.password) {
  await page.goto(base);
  await page.locator('#signin-form').waitFor({ timeout: 10000 });
  await page.locator('#signin-user').fill(user);
  await page.locator('#signin-password').fill(password);
  await page.locator('#signin-form button[type=submit]').click();
  await page.locator('#signed-in-user', { hasText: user }).waitFor({ timeout: 15000 });
}

// Opens a page of the UI and waits until it shows live data.
async function open(page, route, title) {
  await page.goto(`${base}#/${route}`);
  await page.locator('h1', { hasText: title }).waitFor({ timeout: 10000 });
  await page.locator('#conn-status', { hasText: 'live' }).waitFor({ timeout: 10000 });
}

// The poller runs every second: state changes show within a few seconds.
async function until(page, fn, arg, what, timeout = 20000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    fail(`timed out waiting for ${what}`);
  }
}

async function errorNotice(page, timeout = 10000) {
  const n = page.locator('[data-notice="error"]').last();
  await n.waitFor({ timeout });
  return {
    text: (await n.innerText()).trim(),
    what: (await n.locator('.notice-what').innerText()).trim(),
    cause: (await n.locator('.notice-cause').innerText()).trim(),
  };
}

async function dismissNotices(page) {
  for (;;) {
    const b = page.locator('.notice button[aria-label="Dismiss"]');
    if ((await b.count()) === 0) break;
    await b.first().click();
  }
}

async function dialogOpen(page) {
  const d = page.locator('dialog.confirm[open]');
  await d.waitFor({ timeout: 5000 });
  return {
    title: (await d.locator('h2').innerText()).trim(),
    body: (await d.locator('p').first().innerText()).trim(),
    checkbox: (await d.locator('input[type=checkbox]').count()) > 0,
    focused: await page.evaluate(() => document.activeElement?.textContent?.trim() ?? ''),
  };
}

async function dialogAnswer(page, confirm) {
  const d = page.locator('dialog.confirm[open]');
  if (confirm) await d.locator('button[type=submit]').click();
  else await d.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('dialog.confirm[open]').waitFor({ state: 'detached', timeout: 5000 }).catch(() => {});
  await until(page, () => !document.querySelector('dialog.confirm[open]'), null, 'the dialog to close', 5000);
}

function slotGroups(page, beg, end) {
  return page.evaluate(
    ([b, e]) => {
      const out = {};
      for (let i = b; i <= e; i++) {
        const el = document.querySelector(`[data-slot="${i}"].slot`);
        const g = el ? el.getAttribute('data-group') : 'missing';
        out[g] = (out[g] || 0) + 1;
      }
      return out;
    },
    [beg, end],
  );
}

// ---------------------------------------------------------------- scenarios

const scenarios = {
  // The sign-in page: shown without a session (whatever the route), a wrong
  // password shows the error, the right one the overview and the user; the
  // session survives a reload; the cookie is out of the page's reach; Sign
  // out returns to the sign-in page for good.
  async signin(page) {
    await page.goto(`${base}#/groups`);
    await page.locator('#signin-form').waitFor({ timeout: 10000 });
    result.h1_signed_out = (await page.locator('h1').innerText()).trim();
    result.compat_banner_signed_out = await page.locator('#compat-warning').count();
    result.focused = await page.evaluate(() => document.activeElement?.id ?? '');
    await shot(page, 'signin');

    await page.locator('#signin-user').fill(args.user || 'admin');
    await page.locator('#signin-password').fill('not the password');
    await page.keyboard.press('Enter');
    const err = page.locator('#signin-error');
    await err.waitFor({ timeout: 10000 });
    result.bad_password_error = (await err.innerText()).trim();
    result.error_role = await err.getAttribute('role');
    result.password_cleared = (await page.locator('#signin-password').inputValue()) === '';
    await shot(page, 'signin-error');

    await page.locator('#signin-password').fill(args.password);
    await page.locator('#signin-form button[type=submit]').click();
    await page.locator('h1', { hasText: 'Groups' }).waitFor({ timeout: 15000 });
    await page.locator('#conn-status', { hasText: 'live' }).waitFor({ timeout: 10000 });
    result.user_shown = (await page.locator('#signed-in-user').innerText()).trim();
    result.cookie_visible_to_js = await page.evaluate(() => document.cookie.includes('codis_session'));
    result.compat_banner = await page.locator('#compat-warning').count();
    await open(page, 'overview', 'Overview');
    result.product = (await page.locator('#product-name').innerText()).trim();
    await shot(page, 'signed-in');

    await page.reload();
    await page.locator('#conn-status', { hasText: 'live' }).waitFor({ timeout: 10000 });
    result.after_reload_user = (await page.locator('#signed-in-user').innerText()).trim();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#signin-form').waitFor({ timeout: 20000 });
    result.after_sign_out_note = (await page.locator('#signin-note').innerText().catch(() => '')).trim();
    // The browser's cookie no longer opens a session: the server ended it.
    // (Checked with a request from the page, not a reload: a reload right
    // after sign-out sometimes stayed on "Loading...", an open defect.)
    result.after_sign_out_status = await page.evaluate(async () => {
      const r = await fetch('api/auth/session', { credentials: 'same-origin' });
      return r.status;
    });
  },

  // An action done in the UI (pacing set on the Slots page) shows on the
  // Audit page with the user, the address and the result; the page is
  // reached from the navigation by keyboard.
  async audit(page) {
    await open(page, 'slots', 'Slots');
    await page.locator('#interval').fill(String(args.interval));
    await page.getByRole('button', { name: 'Set pacing' }).click();
    await until(page, (v) => document.querySelector('#interval')?.getAttribute('placeholder') === String(v), args.interval, 'the new interval');
    await open(page, 'overview', 'Overview');
    let reached = '';
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => (document.activeElement?.getAttribute('data-nav') === 'audit' ? 'audit' : ''));
    }
    result.keyboard_nav = reached;
    if (reached) await page.keyboard.press('Enter');
    else await page.goto(`${base}#/audit`);
    await page.locator('h1', { hasText: 'Audit' }).waitFor({ timeout: 5000 });
    const route = `/api/topom/slots/action/interval/:xauth/${args.interval}`;
    const row = page.locator(`#audit-table tbody tr[data-route="${route}"]`).first();
    await row.waitFor({ timeout: 10000 });
    result.row = await row.evaluate((tr) => ({
      user: tr.getAttribute('data-user'),
      ok: tr.getAttribute('data-ok'),
      cells: [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()),
    }));
    result.first_route = await page.locator('#audit-table tbody tr').first().getAttribute('data-route');
    result.sign_in_rows = await page.locator('#audit-table tbody tr[data-route="/api/auth/login"]').count();
    await page.locator('#audit-filter').fill('interval');
    result.filtered_rows = await page.locator('#audit-table tbody tr').count();
    await shot(page, 'audit');
  },

  // A session that expires (admin_session_lifetime): the UI returns to the
  // sign-in page by itself and says why.
  async expiry(page) {
    result.signed_in_as = (await page.locator('#signed-in-user').innerText()).trim();
    await page.locator('#signin-form').waitFor({ timeout: 30000 });
    result.note = (await page.locator('#signin-note').innerText()).trim();
    await shot(page, 'signin-expired');
  },

  // admin_compat_xauth = true: the warning shows on the sign-in page and,
  // after signing in, on every page.
  async compat(page) {
    await page.goto(base);
    await page.locator('#signin-form').waitFor({ timeout: 10000 });
    const banner = page.locator('#compat-warning');
    await banner.waitFor({ timeout: 5000 });
    result.signin_banner = (await banner.innerText()).trim();
    await signIn(page);
    await open(page, 'groups', 'Groups');
    result.page_banner = (await page.locator('#compat-warning').innerText()).trim();
    await shot(page, 'compat-warning');
  },

  // Every page renders (headings, nav, live status) and is screenshotted.
  async pages(page) {
    const prefix = args.prefix || 'page';
    const pages = [
      ['overview', 'Overview'],
      ['proxies', 'Proxies'],
      ['groups', 'Groups'],
      ['slots', 'Slots'],
      ['sentinels', 'Sentinels'],
    ];
    result.pages = {};
    for (const [route, title] of pages) {
      await open(page, route, title);
      await page.waitForTimeout(route === 'overview' ? 2500 : 300); // a few QPS samples for the chart
      const info = await page.evaluate(() => ({
        h1: document.querySelector('h1')?.textContent,
        current: document.querySelector('nav a[aria-current="page"]')?.textContent,
        cards: document.querySelectorAll('.card').length,
        product: document.querySelector('#product-name')?.textContent,
        slots: document.querySelectorAll('.slot[data-slot]').length,
        width: document.documentElement.scrollWidth,
      }));
      result.pages[route] = info;
      if (route === 'overview') {
        result.qps = Number((await page.locator('#ov-qps .stat-value').innerText()).replace(/[^0-9]/g, ''));
        const pts = await page.locator('.chart polyline').getAttribute('points').catch(() => '');
        result.chart_points = pts ? pts.trim().split(/\s+/).length : 0;
      }
      await shot(page, `${prefix}-${route}`);
    }
    // Navigation by keyboard: Tab reaches the nav links, Enter follows one.
    await open(page, 'overview', 'Overview');
    let reached = '';
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => (document.activeElement?.getAttribute('data-nav') === 'groups' ? 'groups' : ''));
    }
    if (reached) {
      await page.keyboard.press('Enter');
      await page.locator('h1', { hasText: 'Groups' }).waitFor({ timeout: 5000 });
    }
    result.keyboard_nav = reached;
    // Focus moves to the new page's heading (after the render).
    await page.waitForFunction(() => document.activeElement?.tagName === 'H1', null, { timeout: 3000 }).catch(() => {});
    result.focus_after_nav = await page.evaluate(() => document.activeElement?.tagName);
  },

  // Groups and servers created through the forms; a proxy added; a refused
  // call (an existing group) shows the dashboard's Cause.
  async setup(page) {
    await open(page, 'groups', 'Groups');
    result.groups = [];
    for (const g of args.groups) {
      const form = page.locator('#create-group-form');
      await form.getByLabel('New group ID').fill(String(g.gid));
      await form.getByRole('button', { name: 'Create group' }).click();
      const card = page.locator(`section.group-card[data-group="${g.gid}"]`);
      await card.waitFor({ timeout: 10000 });
      for (const addr of g.servers) {
        await card.getByLabel('Server address').fill(addr);
        await card.getByRole('button', { name: 'Add server' }).click();
        await card.locator(`tr[data-server="${addr}"]`).waitFor({ timeout: 10000 });
      }
      // The stats poller fills memory/keys/health within a second or two.
      for (const addr of g.servers) {
        await until(
          page,
          ([gid, a]) => document.querySelector(`section[data-group="${gid}"] tr[data-server="${a}"]`)?.getAttribute('data-health') === 'ok',
          [g.gid, addr],
          `server ${addr} healthy in group ${g.gid}`,
        );
      }
      result.groups.push(g.gid);
    }
    await shot(page, 'groups-created');

    // The same group again: refused, and the UI shows the server's message.
    await dismissNotices(page);
    await page.locator('#create-group-form').getByLabel('New group ID').fill(String(args.groups[0].gid));
    await page.locator('#create-group-form').getByRole('button', { name: 'Create group' }).click();
    result.duplicate_error = await errorNotice(page);
    await shot(page, 'error-notice');
    await dismissNotices(page);

    // A server without the module is refused with the dashboard's reason.
    if (args.bad_server) {
      const card = page.locator(`section.group-card[data-group="${args.groups[0].gid}"]`);
      await card.getByLabel('Server address').fill(args.bad_server);
      await card.getByRole('button', { name: 'Add server' }).click();
      result.bad_server_error = await errorNotice(page);
      await dismissNotices(page);
    }

    await open(page, 'proxies', 'Proxies');
    for (const admin of args.proxies) {
      await page.getByLabel('Proxy admin address').fill(admin);
      await page.getByRole('button', { name: 'Add proxy' }).click();
      await until(
        page,
        (a) => document.querySelector(`tr[data-admin="${a}"]`)?.getAttribute('data-health') === 'ok',
        admin,
        `proxy ${admin} healthy`,
      );
    }
    result.proxies = await page.locator('#proxies-table tbody tr').count();
  },

  // Slots assigned by typing ranges (Assign button), one range per group.
  async assign(page) {
    await open(page, 'slots', 'Slots');
    for (const r of args.ranges) {
      await page.locator('#range-beg').fill(String(r.beg));
      await page.locator('#range-end').fill(String(r.end));
      await page.locator('#range-target').selectOption(String(r.gid));
      await page.locator('#assign-range').click();
      await until(
        page,
        ([b, e, g]) => {
          for (let i = b; i <= e; i++) {
            if (document.querySelector(`[data-slot="${i}"].slot`)?.getAttribute('data-group') !== String(g)) return false;
          }
          return true;
        },
        [r.beg, r.end, r.gid],
        `slots ${r.beg}-${r.end} in group ${r.gid} on the map`,
      );
    }
    result.map = await slotGroups(page, 0, 1023);
    await shot(page, 'slots-assigned');
  },

  // Keyboard selection on the slot map: focus it, arrows move, Shift+arrows
  // extend; the range fields follow.
  async keyboard(page) {
    await open(page, 'slots', 'Slots');
    await page.locator('#slot-map').focus();
    await page.keyboard.press('Enter'); // select the slot under the cursor (0)
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter'); // new range at slot 3
    await page.keyboard.press('Shift+ArrowDown'); // 3 -> 35
    await page.keyboard.press('Shift+ArrowRight'); // -> 36
    result.range = [await page.locator('#range-beg').inputValue(), await page.locator('#range-end').inputValue()];
    result.selected = await page.locator('.slot.sel').count();
    result.summary = (await page.locator('#range-summary').innerText()).trim();
    result.focus_visible = await page.evaluate(() => {
      const el = document.querySelector('#slot-map .slot.cursor');
      return el ? getComputedStyle(el).outlineStyle : '';
    });
  },

  // A range selected by dragging across the map, migrated to a group while
  // the queue is paused (so the pending actions show), then resumed: the
  // action table and progress bar move, the map recolours.
  async migrate(page) {
    const { beg, end, gid, interval } = args;
    await open(page, 'slots', 'Slots');

    // Pacing and pause through the UI.
    await page.locator('#interval').fill(String(interval));
    await page.getByRole('button', { name: 'Set pacing' }).click();
    await until(page, (v) => document.querySelector('#interval')?.getAttribute('placeholder') === String(v), interval, 'the new interval');
    await page.locator('#toggle-queue', { hasText: 'Pause' }).click();
    await page.locator('#toggle-queue', { hasText: 'Resume' }).waitFor({ timeout: 10000 });

    // Drag from the first to the last slot of the range.
    const box = async (sid) => {
      const b = await page.locator(`[data-slot="${sid}"].slot`).boundingBox();
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    };
    const a = await box(beg);
    const z = await box(end);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move((a.x + z.x) / 2, (a.y + z.y) / 2, { steps: 4 });
    await page.mouse.move(z.x, z.y, { steps: 4 });
    await page.mouse.up();
    result.selected_range = [await page.locator('#range-beg').inputValue(), await page.locator('#range-end').inputValue()];
    result.selected_slots = await page.locator('.slot.sel').count();

    await page.locator('#range-target').selectOption(String(gid));
    await page.locator('#migrate-range').click();
    const n = end - beg + 1;
    await until(
      page,
      (count) => document.querySelectorAll('#actions-table tbody tr[data-state="pending"]').length === count,
      n,
      `${n} pending actions in the table`,
    );
    result.pending_rows = await page.locator('#actions-table tbody tr').count();
    result.pending_on_map = await page.locator('.slot[data-state="pending"]').count();
    result.keys_left_pending = await page.evaluate(() =>
      [...document.querySelectorAll('#actions-table tbody tr')].reduce((s, tr) => s + Math.max(0, Number(tr.getAttribute('data-keys-left'))), 0),
    );
    await shot(page, 'slots-pending');

    // Resume and watch.
    await page.locator('#toggle-queue', { hasText: 'Resume' }).click();
    const samples = [];
    const states = new Set();
    let shotTaken = false;
    const deadline = Date.now() + 90000;
    for (;;) {
      const s = await page.evaluate(
        ([b, e, g]) => {
          const rows = [...document.querySelectorAll('#actions-table tbody tr')];
          const bar = document.querySelector('#actions-progress');
          let moved = 0;
          for (let i = b; i <= e; i++) {
            if (document.querySelector(`[data-slot="${i}"].slot`)?.getAttribute('data-group') === String(g)) moved++;
          }
          return {
            rows: rows.length,
            states: rows.map((r) => r.getAttribute('data-state')),
            keys_left: rows.reduce((s, r) => s + Math.max(0, Number(r.getAttribute('data-keys-left'))), 0),
            progress: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
            moved,
            migrating_on_map: document.querySelectorAll('.slot[data-state="migrating"]').length,
          };
        },
        [beg, end, gid],
      );
      s.t = Date.now();
      samples.push(s);
      for (const st of s.states) states.add(st);
      if (!shotTaken && s.rows > 0 && s.progress !== null && s.progress > 0 && s.progress < 100) {
        await shot(page, 'slots-migrating');
        shotTaken = true;
      }
      if (s.rows === 0 && s.moved === n) break;
      if (Date.now() > deadline) fail(`migration did not finish in the UI: last sample ${JSON.stringify(s)}`);
      await page.waitForTimeout(150);
    }
    if (!shotTaken) await shot(page, 'slots-migrating');
    await page.locator('#no-actions').waitFor({ timeout: 5000 });
    await shot(page, 'slots-migrated');
    result.states_seen = [...states];
    result.progress_seen = [...new Set(samples.map((s) => s.progress).filter((p) => p !== null))];
    result.keys_left_seen = [...new Set(samples.map((s) => s.keys_left))];
    result.moved_seen = [...new Set(samples.map((s) => s.moved))];
    result.final_progress = await page.locator('#actions-progress').getAttribute('aria-valuenow');
    result.final_map = await slotGroups(page, beg, end);
    result.samples = samples.length;
  },

  // Destructive actions ask first; Cancel leaves everything as it was.
  async confirm(page) {
    const gid = args.empty_gid;
    await open(page, 'groups', 'Groups');
    const remove = page.getByRole('button', { name: `Remove group ${gid}`, exact: true });
    await remove.click();
    result.group_dialog = await dialogOpen(page);
    await dialogAnswer(page, false);
    await page.waitForTimeout(1500); // a poll later the group is still there
    result.group_after_cancel = await page.locator(`section.group-card[data-group="${gid}"]`).count();
    await remove.click();
    await dialogOpen(page);
    await page.keyboard.press('Escape'); // Escape cancels too
    await until(page, () => !document.querySelector('dialog.confirm[open]'), null, 'Escape to close the dialog', 5000);
    result.group_after_escape = await page.locator(`section.group-card[data-group="${gid}"]`).count();
    await remove.click();
    await dialogOpen(page);
    await dialogAnswer(page, true);
    await page.locator(`section.group-card[data-group="${gid}"]`).waitFor({ state: 'detached', timeout: 10000 });
    result.group_removed = true;

    // Removing a server, promoting a replica: both ask.
    if (args.replica) {
      const row = page.locator(`tr[data-server="${args.replica}"]`);
      await row.getByRole('button', { name: /^Promote/ }).click();
      result.promote_dialog = await dialogOpen(page);
      await dialogAnswer(page, false);
      await row.getByRole('button', { name: /^Remove server/ }).click();
      result.del_server_dialog = await dialogOpen(page);
      await dialogAnswer(page, false);
      result.replica_after_cancel = await page.locator(`tr[data-server="${args.replica}"][data-role="replica"]`).count();
    }

    await open(page, 'proxies', 'Proxies');
    await page.getByRole('button', { name: `Remove proxy ${args.proxy}` }).click();
    result.proxy_dialog = await dialogOpen(page);
    await shot(page, 'confirm-dialog');
    await dialogAnswer(page, false);
    await page.waitForTimeout(1200);
    result.proxy_after_cancel = await page.locator(`tr[data-admin="${args.proxy}"]`).count();

    await open(page, 'slots', 'Slots');
    await page.locator('#rebalance').click();
    result.rebalance_dialog = await dialogOpen(page);
    await dialogAnswer(page, false);
  },

  // A killed proxy turns unhealthy in the table and raises an alert.
  async proxy_down(page) {
    await open(page, 'proxies', 'Proxies');
    await until(
      page,
      (a) => {
        const h = document.querySelector(`tr[data-admin="${a}"]`)?.getAttribute('data-health');
        return h === 'error' || h === 'timeout';
      },
      args.proxy,
      `proxy ${args.proxy} unhealthy`,
      30000,
    );
    const row = page.locator(`tr[data-admin="${args.proxy}"]`);
    result.health = await row.getAttribute('data-health');
    result.badge = (await row.locator('.badge').first().innerText()).trim();
    result.others = await page.evaluate(
      (a) => [...document.querySelectorAll('#proxies-table tbody tr')].filter((r) => r.getAttribute('data-admin') !== a).map((r) => r.getAttribute('data-health')),
      args.proxy,
    );
    await shot(page, 'proxies-down');
    await open(page, 'overview', 'Overview');
    const alert = page.locator('[data-alert="proxy-down"]');
    await alert.first().waitFor({ timeout: 10000 });
    result.alert = (await alert.first().innerText()).trim();
    await shot(page, 'overview-proxy-down');
  },

  // A sentinel added through the UI; resync (confirmed) registers the masters.
  async sentinels(page) {
    await open(page, 'sentinels', 'Sentinels');
    await page.getByLabel('Sentinel address').fill(args.sentinel);
    await page.getByRole('button', { name: 'Add sentinel' }).click();
    await page.locator(`tr[data-sentinel="${args.sentinel}"]`).waitFor({ timeout: 10000 });
    await page.locator('#sentinels-resync').click();
    result.resync_dialog = await dialogOpen(page);
    await dialogAnswer(page, true);
    const table = page.locator(`table.monitored-table[data-sentinel="${args.sentinel}"]`);
    await table.waitFor({ timeout: 15000 });
    await until(
      page,
      (n) => document.querySelectorAll('table.monitored-table tbody tr').length >= n,
      args.masters,
      `${args.masters} monitored masters`,
      15000,
    );
    result.masters = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-master')));
    await shot(page, 'sentinels');
  },
};

// ---------------------------------------------------------------- main

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A refused API call is answered with Codis's status 800, which Chromium
    // logs as a failed resource load; the UI shows it (tested). Anything else
    // is a real error.
    // The same for 401 (not signed in: the sign-in page shows) and 429
    // (throttled sign-in).
    if (/Failed to load resource: the server responded with a status of (800|401|429)/.test(m.text())) return;
    consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  const fn = scenarios[scenario];
  if (!fn) fail(`unknown scenario ${scenario}`);
  // The scenarios about signing in do it themselves.
  if (!['signin', 'compat'].includes(scenario)) await signIn(page);
  await fn(page);
} catch (e) {
  result.ok = false;
  result.error = e && e.stack ? e.stack : String(e);
  if (page) {
    try {
      await shot(page, `failure-${scenario}`);
      result.html_excerpt = (await page.locator('main').innerText()).slice(0, 2000);
    } catch {
      /* the page may be gone */
    }
  }
} finally {
  result.console_errors = consoleErrors;
  await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
