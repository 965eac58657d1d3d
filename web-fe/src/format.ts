// Small formatting and parsing helpers shared by the pages.
import type { Group, ProxyStats, RedisStats, Stats } from './api';

export function fmtNum(n: number | undefined | null): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmtDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// "keys=12,expires=0,avg_ttl=0" -> 12
export function keyspaceKeys(line: string | undefined): number {
  if (!line) return 0;
  const m = /(?:^|,)keys=(\d+)/.exec(line);
  return m ? Number(m[1]) : 0;
}

// Keys over every db of a redis-server's INFO.
export function serverKeys(info: Record<string, string> | undefined): number | undefined {
  if (!info) return undefined;
  let n = 0;
  for (const [k, v] of Object.entries(info)) {
    if (/^db\d+$/.test(k)) n += keyspaceKeys(v);
  }
  return n;
}

export function num(info: Record<string, string> | undefined, key: string): number | undefined {
  if (!info || info[key] === undefined) return undefined;
  const v = Number(info[key]);
  return Number.isFinite(v) ? v : undefined;
}

export type Health = 'ok' | 'error' | 'timeout' | 'unknown' | 'offline';

export function proxyHealth(s: ProxyStats | undefined): { health: Health; why: string } {
  if (!s) return { health: 'unknown', why: 'no stats yet' };
  if (s.timeout) return { health: 'timeout', why: 'stats request timed out' };
  if (s.error) return { health: 'error', why: s.error.Cause };
  if (!s.stats) return { health: 'unknown', why: 'no stats yet' };
  if (s.stats.online === false) return { health: 'offline', why: 'the proxy is not online (waiting to be started)' };
  if (s.stats.closed) return { health: 'offline', why: 'the proxy is closed' };
  return { health: 'ok', why: '' };
}

export function serverHealth(s: RedisStats | undefined): { health: Health; why: string } {
  if (!s) return { health: 'unknown', why: 'no stats yet' };
  if (s.timeout) return { health: 'timeout', why: 'INFO timed out' };
  if (s.error) return { health: 'error', why: s.error.Cause };
  if (!s.stats) return { health: 'unknown', why: 'no stats yet' };
  return { health: 'ok', why: '' };
}

// The replication state of one server of a group, compared with the group's
// server list (servers[0] is the master, as Codis).
export interface Replication {
  role: string; // what the server says: master / slave / –
  expected: 'master' | 'replica';
  ok: boolean;
  text: string;
}

export function replication(group: Group, index: number, stats: Stats): Replication {
  const expected = index === 0 ? 'master' : 'replica';
  const info = stats.group.stats[group.servers[index].server]?.stats;
  if (!info) return { role: '–', expected, ok: false, text: 'unknown (no INFO)' };
  const role = info.role ?? '–';
  if (expected === 'master') {
    if (role === 'master') {
      const n = Number(info.connected_slaves ?? 0);
      return { role, expected, ok: true, text: `master, ${n} replica${n === 1 ? '' : 's'} connected` };
    }
    return { role, expected, ok: false, text: `expected master, is ${role} of ${info.master_host}:${info.master_port}` };
  }
  const master = group.servers[0]?.server ?? '';
  if (role !== 'slave') return { role, expected, ok: false, text: `expected replica of ${master}, is ${role}` };
  const following = `${info.master_host}:${info.master_port}`;
  const link = info.master_link_status ?? '?';
  if (following !== master && !sameHostPort(following, master)) {
    return { role, expected, ok: false, text: `follows ${following}, expected ${master}` };
  }
  if (link !== 'up') return { role, expected, ok: false, text: `link ${link} to ${following}` };
  const lag = Number(info.master_last_io_seconds_ago ?? 0);
  return { role, expected, ok: true, text: `link up to ${following}${lag > 0 ? `, last io ${lag} s ago` : ''}` };
}

function sameHostPort(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^localhost:/, '127.0.0.1:');
  return norm(a) === norm(b);
}

export function groupKeysAndMemory(group: Group, stats: Stats): { keys?: number; memory?: number } {
  const master = group.servers[0];
  if (!master) return {};
  const info = stats.group.stats[master.server]?.stats;
  return { keys: serverKeys(info), memory: num(info, 'used_memory') };
}

export function totalQps(stats: Stats): number {
  let q = 0;
  for (const s of Object.values(stats.proxy.stats ?? {})) q += s.stats?.ops?.qps ?? 0;
  return q;
}

export function totalSessions(stats: Stats): number {
  let n = 0;
  for (const s of Object.values(stats.proxy.stats ?? {})) n += s.stats?.sessions?.alive ?? 0;
  return n;
}

export function shortToken(t: string): string {
  return t.length > 12 ? t.slice(0, 8) + '…' : t;
}
