// Application state: the sign-in session, the dashboard overview polled
// every second while signed in, a short QPS history for the chart, migration
// batch progress, notices (failed and successful calls) and the confirmation
// dialog. Components subscribe with useStore(); everything else is plain
// functions.
import { useEffect, useState } from 'preact/hooks';
import {
  Api,
  ApiError,
  getOverview,
  getSession,
  setCsrfToken,
  setUnauthorizedHandler,
  signIn as apiSignIn,
  signOut as apiSignOut,
  type Overview,
  type Session,
} from './api';
import { totalQps } from './format';

export const POLL_MS = 1000;
const HISTORY = 180; // samples kept for the QPS chart (3 minutes at 1 s)

export interface Notice {
  id: number;
  kind: 'error' | 'ok';
  text: string;
  what?: string;
}

export interface ConfirmRequest {
  title: string;
  body: string;
  confirmLabel: string;
  danger: boolean;
  checkbox?: string; // an option shown as a checkbox (e.g. "force")
  resolve: (r: { ok: boolean; checked: boolean }) => void;
}

// Progress of the current batch of slot actions: the most keys seen left in
// each slot since it appeared, and the slots that finished since.
export interface BatchSlot {
  max: number;
  left: number;
  done: boolean;
}

export interface State {
  // 'checking' until GET api/auth/session answered; 'signed-out' shows the sign-in page.
  auth: 'checking' | 'signed-out' | 'signed-in';
  session?: Session;
  compatXauth: boolean; // admin_compat_xauth is on: the UI warns
  signInMessage?: string; // why the sign-in page is shown (session expired, ...)
  overview?: Overview;
  api?: Api;
  pollError?: string;
  updated?: number;
  qps: { t: number; v: number }[];
  batch: Map<number, BatchSlot>;
  notices: Notice[];
  confirm?: ConfirmRequest;
}

let state: State = { auth: 'checking', compatXauth: false, qps: [], batch: new Map(), notices: [] };
const listeners = new Set<() => void>();

function set(patch: Partial<State>) {
  state = { ...state, ...patch };
  for (const l of listeners) l();
}

export function getState(): State {
  return state;
}

export function useStore(): State {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return state;
}

// ---- polling

let timer: number | undefined;
let inflight: Promise<void> | undefined;

function updateBatch(ov: Overview): Map<number, BatchSlot> {
  const actions = ov.stats.slot_actions?.actions ?? fallbackActions(ov);
  const prev = state.batch;
  const allDone = [...prev.values()].every((b) => b.done);
  // A new batch starts when actions appear after the previous one finished.
  const batch = new Map<number, BatchSlot>(actions.length > 0 && allDone ? [] : prev);
  const seen = new Set<number>();
  for (const a of actions) {
    seen.add(a.id);
    const left = a.keys_left;
    const b = batch.get(a.id) ?? { max: 0, left: -1, done: false };
    batch.set(a.id, { max: Math.max(b.max, left), left, done: false });
  }
  for (const [id, b] of batch) {
    if (!seen.has(id) && !b.done) batch.set(id, { ...b, left: 0, done: true });
  }
  return batch;
}

// Without our slot_actions section (Codis's stats): the slots' actions.
export function fallbackActions(ov: Overview) {
  return ov.stats.slots
    .filter((s) => s.action?.state)
    .map((s) => ({
      id: s.id,
      group_id: s.group_id,
      target_id: s.action.target_id ?? 0,
      index: s.action.index ?? 0,
      state: s.action.state ?? '',
      keys_left: -1,
    }));
}

async function pollOnce(): Promise<void> {
  if (state.auth !== 'signed-in') return;
  try {
    const ov = await getOverview();
    if (state.auth !== 'signed-in') return; // signed out while the poll was in flight
    const now = Date.now();
    const qps = [...state.qps, { t: now, v: totalQps(ov.stats) }].slice(-HISTORY);
    const api = state.api && state.api.product === ov.model.product_name ? state.api : new Api(ov.model.product_name);
    set({ overview: ov, api, pollError: undefined, updated: now, qps, batch: updateBatch(ov) });
  } catch (e) {
    if (state.auth !== 'signed-in') return; // a 401 signed us out meanwhile
    set({ pollError: e instanceof Error ? e.message : String(e) });
  }
}

function schedule(ms: number) {
  window.clearTimeout(timer);
  if (state.auth !== 'signed-in') return;
  timer = window.setTimeout(() => void refresh(), ms);
}

// Polls now (or joins the poll in flight) and schedules the next one.
export function refresh(): Promise<void> {
  if (!inflight) {
    inflight = pollOnce().finally(() => {
      inflight = undefined;
      schedule(POLL_MS);
    });
  }
  return inflight;
}

export function startPolling() {
  void refresh();
}

// ---- session

function signedIn(session: Session) {
  setCsrfToken(session.csrf_token);
  set({ auth: 'signed-in', session, compatXauth: session.compat_xauth, signInMessage: undefined });
  startPolling();
}

function signedOut(message?: string) {
  setCsrfToken('');
  window.clearTimeout(timer);
  state.confirm?.resolve({ ok: false, checked: false });
  set({
    auth: 'signed-out',
    session: undefined,
    signInMessage: message,
    overview: undefined,
    api: undefined,
    pollError: undefined,
    updated: undefined,
    qps: [],
    batch: new Map(),
    notices: [],
    confirm: undefined,
  });
}

// Any call answered 401 (the session expired or ended): back to the sign-in page.
// (The browser drops the cookie itself when its Max-Age passes; the server
// then only says that authentication is required.)
setUnauthorizedHandler((cause) => {
  if (state.auth !== 'signed-in') return;
  signedOut(cause.startsWith('authentication required') ? 'The session ended: sign in again.' : cause);
});

// At start: an existing session (a reload keeps it) or the sign-in page.
export async function checkSession(): Promise<void> {
  try {
    const r = await getSession();
    if (r.session) signedIn(r.session);
    else {
      set({ compatXauth: r.compat_xauth });
      signedOut();
    }
  } catch (e) {
    signedOut(`cannot reach the dashboard: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// The sign-in form; resolves to the error to show, or undefined on success.
export async function signIn(user: string, password: string): Promise<string | undefined> {
  try {
    signedIn(await apiSignIn(user, password));
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export async function signOut(): Promise<void> {
  try {
    await apiSignOut();
  } catch {
    /* the session may be gone already: signed out either way */
  }
  signedOut('Signed out.');
}

// ---- notices

let nextNotice = 1;

export function notify(kind: Notice['kind'], text: string, what?: string) {
  const n: Notice = { id: nextNotice++, kind, text, what };
  // Keep the last 4 errors (until dismissed) and the last 2 confirmations
  // (they go away by themselves).
  const errors = state.notices.filter((x) => x.kind === 'error');
  const oks = state.notices.filter((x) => x.kind === 'ok');
  if (kind === 'error') errors.push(n);
  else oks.push(n);
  set({ notices: [...errors.slice(-4), ...oks.slice(-2)] });
  if (kind === 'ok') window.setTimeout(() => dismiss(n.id), 3000);
}

export function dismiss(id: number) {
  set({ notices: state.notices.filter((n) => n.id !== id) });
}

// Runs one API call: a failure shows the server's message, success a short
// notice, and either way the state is refreshed at once.
export async function run<T>(
  label: string,
  fn: (api: Api) => Promise<T>,
  opts: { quiet?: boolean } = {},
): Promise<{ ok: true; value: T } | { ok: false }> {
  const api = state.api;
  if (!api) {
    notify('error', 'not connected to the dashboard yet', label);
    return { ok: false };
  }
  try {
    const value = await fn(api);
    if (!opts.quiet) notify('ok', `${label}: done`);
    void refresh();
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return { ok: false }; // signed out: the sign-in page says why
    const text = e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
    notify('error', text, label);
    void refresh();
    return { ok: false };
  }
}

// ---- confirmation

export function confirm(opts: {
  title: string;
  body: string;
  confirmLabel?: string;
  danger?: boolean;
  checkbox?: string;
}): Promise<{ ok: boolean; checked: boolean }> {
  return new Promise((resolve) => {
    state.confirm?.resolve({ ok: false, checked: false });
    set({
      confirm: {
        title: opts.title,
        body: opts.body,
        confirmLabel: opts.confirmLabel ?? 'Confirm',
        danger: opts.danger ?? true,
        checkbox: opts.checkbox,
        resolve: (r) => {
          set({ confirm: undefined });
          resolve(r);
        },
      },
    });
  });
}

export async function confirmed(opts: Parameters<typeof confirm>[0]): Promise<boolean> {
  return (await confirm(opts)).ok;
}
