// The Codis 3.2 dashboard API as the UI uses it. Reads: GET topom (config,
// model and stats in one reply, polled). Writes: PUT /api/topom/...:xauth.
// Authorization is the sign-in session (api/auth/*): an HttpOnly cookie the
// browser sends by itself, plus the session's CSRF token in X-CSRF-Token on
// every call that changes something. The xauth path segment is still sent
// (Codis's paths have it) but authorizes nothing unless the dashboard runs
// with admin_compat_xauth.
// Failures follow Codis's rpc: HTTP status 800 and {"Cause": "..."}; anything
// else that is not 200 is reported with its status and body text.
//
// URLs are relative so the bundle also works behind a reverse proxy that
// mounts the dashboard under a sub-path.
import { topomXAuth } from './sha256';

export interface Config {
  coordinator_name: string;
  coordinator_addr: string;
  product_name: string;
  admin_addr: string;
  migration_method?: string;
  migration_parallel_slots?: number;
  sentinel_quorum?: number;
  [key: string]: unknown;
}

export interface TopomModel {
  token: string;
  start_time: string;
  admin_addr: string;
  product_name: string;
  pid: number;
  pwd: string;
  sys: string;
}

export interface SlotAction {
  index?: number;
  state?: string;
  target_id?: number;
}

export interface SlotMapping {
  id: number;
  group_id: number;
  action: SlotAction;
}

export interface GroupServer {
  server: string;
  datacenter: string;
  action: { index?: number; state?: string };
  replica_group: boolean;
}

export interface Group {
  id: number;
  servers: GroupServer[];
  promoting: { index?: number; state?: string };
  out_of_sync: boolean;
}

export interface ProxyModel {
  id?: number;
  token: string;
  start_time: string;
  admin_addr: string;
  proto_type: string;
  proxy_addr: string;
  jodis_path?: string;
  product_name: string;
  pid: number;
  pwd: string;
  sys: string;
  hostname: string;
  datacenter: string;
}

export interface RpcError {
  Cause: string;
  Stack?: unknown;
}

export interface ProxyRuntime {
  online?: boolean;
  closed?: boolean;
  ops?: { total?: number; fails?: number; qps?: number; redis?: { errors?: number } };
  sessions?: { total?: number; alive?: number };
  rusage?: { mem?: number; cpu?: number; raw?: Record<string, unknown> };
  [key: string]: unknown;
}

export interface ProxyStats {
  stats?: ProxyRuntime;
  error?: RpcError;
  unixtime?: number;
  timeout?: boolean;
}

export interface RedisStats {
  stats?: Record<string, string>;
  error?: RpcError;
  unixtime?: number;
  timeout?: boolean;
  sentinel?: Record<string, unknown>;
}

export interface ActionRow {
  id: number;
  group_id: number;
  target_id: number;
  index: number;
  state: string;
  keys_left: number;
  running?: boolean;
}

export interface SlotActions {
  remaining: number;
  keys_left: number;
  keys_left_complete: boolean;
  estimate?: {
    actions?: number;
    keys_left?: number;
    keys_left_complete?: boolean;
    keys_moved?: number;
    keys_per_sec?: number;
    eta_seconds?: number | null;
  };
  actions: ActionRow[];
}

export interface Stats {
  closed: boolean;
  slots: SlotMapping[];
  group: { models: Group[]; stats: Record<string, RedisStats> };
  proxy: { models: ProxyModel[]; stats: Record<string, ProxyStats> };
  slot_action: {
    interval: number;
    disabled: boolean;
    progress?: { status?: string };
    executor?: number;
  };
  // Ours (not in Codis): per-action progress.
  slot_actions?: SlotActions;
  sentinels: {
    model: { servers?: string[]; out_of_sync?: boolean };
    stats?: Record<string, RedisStats>;
    masters?: Record<string, string>;
  };
}

export interface Overview {
  version: string;
  compile: string;
  config: Config;
  model: TopomModel;
  stats: Stats;
}

export interface SentinelMonitored {
  masters: Record<string, Record<string, string>>;
  slaves: Record<string, Record<string, string>[]>;
}

// A failed call: `message` is the server's Cause when it sent one.
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly what: string,
    readonly compatXauth = false,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// The signed-in session's CSRF token (set by the store after sign-in).
let csrfToken = '';
export function setCsrfToken(token: string) {
  csrfToken = token;
}

// Called when the dashboard answers 401: the session is gone (expired,
// signed out elsewhere, dashboard restarted). The store shows the sign-in page.
let onUnauthorized: (cause: string) => void = () => {};
export function setUnauthorizedHandler(fn: (cause: string) => void) {
  onUnauthorized = fn;
}

async function call<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
  const what = `${method} ${path.replace(/\/[0-9a-f]{32}(?=\/|$)/, '/…')}`;
  let res: Response;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(`cannot reach the dashboard: ${e instanceof Error ? e.message : String(e)}`, 0, what);
  }
  const text = await res.text();
  if (res.status === 200) {
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(`bad JSON in the reply: ${text.slice(0, 200)}`, res.status, what);
    }
  }
  let cause = '';
  let compat = false;
  try {
    const e = JSON.parse(text) as RpcError & { compat_xauth?: boolean };
    if (e && typeof e.Cause === 'string') cause = e.Cause;
    compat = e?.compat_xauth === true;
  } catch {
    /* not Codis's error body */
  }
  if (!cause) cause = `HTTP ${res.status}${text ? ': ' + text.trim().slice(0, 300) : ''}`;
  if (res.status === 401 && !path.startsWith('api/auth/')) onUnauthorized(cause);
  throw new ApiError(cause, res.status, what, compat);
}

// ---- sign-in (api/auth/*)

export interface Session {
  user: string;
  csrf_token: string;
  expires: number; // unix seconds
  idle_timeout: number; // seconds
  compat_xauth: boolean;
}

// The current session, or why there is none (with the compat flag, which the
// sign-in page shows too).
export async function getSession(): Promise<{ session?: Session; compat_xauth: boolean }> {
  try {
    const session = await call<Session>('GET', 'api/auth/session');
    return { session, compat_xauth: session.compat_xauth };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return { compat_xauth: e.compatXauth };
    throw e;
  }
}

export function signIn(user: string, password: string): Promise<Session> {
  return call<Session>('POST', 'api/auth/login', { user, password });
}

export function signOut(): Promise<unknown> {
  return call('POST', 'api/auth/logout');
}

// One mutating admin call (GET api/topom/audit), newest first.
export interface AuditEntry {
  time: string;
  unix_ms: number;
  user: string;
  remote: string;
  method: string;
  route: string;
  ok: boolean;
  result: string;
}

export function getAudit(): Promise<AuditEntry[]> {
  return call<AuditEntry[]>('GET', 'api/topom/audit');
}

const enc = encodeURIComponent;

export function getOverview(): Promise<Overview> {
  return call<Overview>('GET', 'topom');
}

// Calls that need the xauth. The product name comes from the first overview.
export class Api {
  readonly xauth: string;
  constructor(readonly product: string) {
    this.xauth = topomXAuth(product);
  }
  // PUT /api/topom/{op}/{xauth}/{params...}, as Codis lays the paths out.
  private put<T = unknown>(op: string, params: (string | number)[] = [], body?: unknown): Promise<T> {
    const tail = params.map((p) => enc(String(p)));
    return call<T>('PUT', ['api/topom', op, this.xauth, ...tail].join('/'), body);
  }

  // Proxies.
  createProxy(addr: string) {
    return this.put('proxy/create', [addr]);
  }
  onlineProxy(addr: string) {
    return this.put('proxy/online', [addr]);
  }
  reinitProxy(token: string) {
    return this.put('proxy/reinit', [token]);
  }
  removeProxy(token: string, force: boolean) {
    return this.put('proxy/remove', [token, force ? 1 : 0]);
  }

  // Groups.
  createGroup(gid: number) {
    return this.put('group/create', [gid]);
  }
  removeGroup(gid: number) {
    return this.put('group/remove', [gid]);
  }
  resyncGroup(gid: number) {
    return this.put('group/resync', [gid]);
  }
  resyncGroupAll() {
    return this.put('group/resync-all');
  }
  addServer(gid: number, addr: string, datacenter: string) {
    return this.put('group/add', datacenter ? [gid, addr, datacenter] : [gid, addr]);
  }
  delServer(gid: number, addr: string) {
    return this.put('group/del', [gid, addr]);
  }
  promoteServer(gid: number, addr: string) {
    return this.put('group/promote', [gid, addr]);
  }
  replicaGroups(gid: number, addr: string, on: boolean) {
    return this.put('group/replica-groups', [gid, addr, on ? 1 : 0]);
  }
  replicaGroupsAll(on: boolean) {
    return this.put('group/replica-groups-all', [on ? 1 : 0]);
  }
  syncCreate(addr: string) {
    return this.put('group/action/create', [addr]);
  }
  syncRemove(addr: string) {
    return this.put('group/action/remove', [addr]);
  }
  serverInfo(addr: string) {
    return call<Record<string, string>>('GET', `api/topom/group/info/${enc(addr)}`);
  }

  // Slots.
  assignSlots(slots: { id: number; group_id: number }[]) {
    return this.put('slots/assign', [], slots);
  }
  // Unassigns slots (group_id must be 0).
  assignSlotsOffline(slots: { id: number; group_id: number }[]) {
    return call('PUT', `api/topom/slots/assign/${this.xauth}/offline`, slots);
  }
  createAction(sid: number, gid: number) {
    return this.put('slots/action/create', [sid, gid]);
  }
  createActionRange(beg: number, end: number, gid: number) {
    return this.put('slots/action/create-range', [beg, end, gid]);
  }
  createActionSome(src: number, dst: number, num: number) {
    return this.put('slots/action/create-some', [src, dst, num]);
  }
  removeAction(sid: number) {
    return this.put('slots/action/remove', [sid]);
  }
  setActionInterval(us: number) {
    return this.put('slots/action/interval', [us]);
  }
  setActionDisabled(disabled: boolean) {
    return this.put('slots/action/disabled', [disabled ? 1 : 0]);
  }
  // confirm=false returns the plan {sid: gid} without doing anything.
  rebalance(confirm: boolean) {
    return this.put<Record<string, number>>('slots/rebalance', [confirm ? 1 : 0]);
  }

  // Sentinels.
  addSentinel(addr: string) {
    return this.put('sentinels/add', [addr]);
  }
  delSentinel(addr: string, force: boolean) {
    return this.put('sentinels/del', [addr, force ? 1 : 0]);
  }
  resyncSentinels() {
    return this.put('sentinels/resync-all');
  }
  sentinelMonitored(addr: string) {
    return call<SentinelMonitored>('GET', `api/topom/sentinels/info/${enc(addr)}/monitored`);
  }
}
