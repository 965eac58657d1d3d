// Overview: product, coordinator, dashboard, total QPS (live chart),
// sessions, keys and memory per group, and alerts.
import type { Overview } from '../api';
import { QpsChart } from '../chart';
import {
  fmtBytes,
  fmtDuration,
  fmtNum,
  groupKeysAndMemory,
  proxyHealth,
  replication,
  serverHealth,
  totalQps,
  totalSessions,
} from '../format';
import { useStore } from '../store';
import { Badge, Card, Stat } from '../ui';

export interface Alert {
  level: 'critical' | 'warning';
  kind: string;
  text: string;
  href: string;
}

export function alerts(ov: Overview): Alert[] {
  const out: Alert[] = [];
  const s = ov.stats;
  if (s.closed) out.push({ level: 'critical', kind: 'dashboard', text: 'The dashboard is closed (lost its lock?)', href: '#/overview' });
  for (const p of s.proxy.models) {
    const h = proxyHealth(s.proxy.stats[p.token]);
    if (h.health !== 'ok' && h.health !== 'unknown') {
      out.push({ level: 'critical', kind: 'proxy-down', text: `Proxy ${p.proxy_addr} (admin ${p.admin_addr}) is ${h.health}: ${h.why}`, href: '#/proxies' });
    }
  }
  for (const g of s.group.models) {
    g.servers.forEach((srv, i) => {
      const h = serverHealth(s.group.stats[srv.server]);
      if (h.health !== 'ok' && h.health !== 'unknown') {
        out.push({
          level: i === 0 ? 'critical' : 'warning',
          kind: i === 0 ? 'master-down' : 'replica-down',
          text: `${i === 0 ? 'Master' : 'Replica'} ${srv.server} of group ${g.id} is ${h.health}: ${h.why}`,
          href: '#/groups',
        });
        return;
      }
      if (h.health !== 'ok') return;
      const r = replication(g, i, s);
      if (!r.ok) {
        out.push({
          level: i === 0 ? 'critical' : 'warning',
          kind: i === 0 ? 'master-role' : 'replica-out-of-sync',
          text: `${i === 0 ? 'Master' : 'Replica'} ${srv.server} of group ${g.id}: ${r.text}`,
          href: '#/groups',
        });
      }
    });
    if (g.servers.length === 0) {
      const owned = s.slots.filter((m) => m.group_id === g.id).length;
      if (owned > 0) out.push({ level: 'critical', kind: 'group-empty', text: `Group ${g.id} owns ${owned} slots but has no server`, href: '#/groups' });
    }
    if (g.out_of_sync) out.push({ level: 'warning', kind: 'group-out-of-sync', text: `Group ${g.id} is out of sync: resync it`, href: '#/groups' });
    if (g.promoting?.state) out.push({ level: 'warning', kind: 'promoting', text: `Group ${g.id} is promoting (${g.promoting.state})`, href: '#/groups' });
  }
  const offline = s.slots.filter((m) => m.group_id === 0 && !m.action?.state).length;
  if (offline > 0) out.push({ level: 'critical', kind: 'slots-offline', text: `${offline} of 1024 slots are offline (not assigned to a group)`, href: '#/slots' });
  const status = s.slot_action?.progress?.status ?? '';
  if (status.startsWith('[ERROR]')) out.push({ level: 'warning', kind: 'migration-error', text: `Migration: ${status}`, href: '#/slots' });
  if (s.sentinels?.model?.out_of_sync) out.push({ level: 'warning', kind: 'sentinels-out-of-sync', text: 'Sentinels are out of sync: resync them', href: '#/sentinels' });
  for (const [addr, st] of Object.entries(s.sentinels?.stats ?? {})) {
    const h = serverHealth(st);
    if (h.health !== 'ok' && h.health !== 'unknown') out.push({ level: 'warning', kind: 'sentinel-down', text: `Sentinel ${addr} is ${h.health}: ${h.why}`, href: '#/sentinels' });
  }
  return out;
}

export function OverviewPage({ ov }: { ov: Overview }) {
  const { qps } = useStore();
  const s = ov.stats;
  const list = alerts(ov);
  const healthyProxies = s.proxy.models.filter((p) => proxyHealth(s.proxy.stats[p.token]).health === 'ok').length;
  const slotsByGroup = new Map<number, number>();
  for (const m of s.slots) slotsByGroup.set(m.group_id, (slotsByGroup.get(m.group_id) ?? 0) + 1);
  const sa = s.slot_actions;
  let keysTotal = 0;
  let memTotal = 0;
  const groups = [...s.group.models].sort((a, b) => a.id - b.id);
  return (
    <div class="page page-overview">
      <div class="stats-row">
        <Stat label="Product" value={<span id="ov-product">{ov.model.product_name}</span>} sub={ov.version} />
        <Stat
          label="Coordinator"
          value={<span id="ov-coordinator">{ov.config.coordinator_name}</span>}
          sub={<span class="mono">{ov.config.coordinator_addr}</span>}
        />
        <Stat label="Dashboard" value={<span class="mono" id="ov-dashboard">{ov.model.admin_addr}</span>} sub={`pid ${ov.model.pid}, since ${ov.model.start_time.replace(/\.\d+/, '')}`} />
        <Stat label="Total QPS" id="ov-qps" value={fmtNum(totalQps(s))} sub={`${healthyProxies}/${s.proxy.models.length} proxies healthy`} />
        <Stat label="Sessions" id="ov-sessions" value={fmtNum(totalSessions(s))} sub="client connections on all proxies" />
      </div>

      <Card title={<span>Alerts {list.length > 0 ? <Badge kind="bad">{list.length}</Badge> : <Badge kind="ok">none</Badge>}</span>} id="alerts">
        {list.length === 0 ? (
          <p class="muted">Everything is healthy: proxies answer, masters are up, replicas follow, every slot is online.</p>
        ) : (
          <ul class="alerts">
            {list.map((a, i) => (
              <li key={i} class={`alert alert-${a.level}`} data-alert={a.kind}>
                <span class="alert-level">{a.level}</span> <a href={a.href}>{a.text}</a>
              </li>
            ))}
          </ul>
        )}
      </Card>

      <div class="two-col">
        <Card title="Total QPS (all proxies)">
          <QpsChart points={qps} />
        </Card>
        <Card title="Slot migration">
          {sa && sa.remaining > 0 ? (
            <p>
              <strong>{sa.remaining}</strong> slot{sa.remaining === 1 ? '' : 's'} in flight, {fmtNum(sa.keys_left)}
              {sa.keys_left_complete ? '' : '+'} keys left
              {sa.estimate?.eta_seconds != null && <>, about {fmtDuration(sa.estimate.eta_seconds)} to go</>}.{' '}
              <a href="#/slots">Details</a>
            </p>
          ) : (
            <p class="muted">No migration in progress.</p>
          )}
          <p>
            Action queue: {s.slot_action.disabled ? <Badge kind="warn">paused</Badge> : <Badge kind="ok">running</Badge>}{' '}
            interval {fmtNum(s.slot_action.interval)} µs
          </p>
          {s.slot_action.progress?.status && <p class="mono small">{s.slot_action.progress.status}</p>}
        </Card>
      </div>

      <Card title="Groups">
        {groups.length === 0 ? (
          <p class="muted">
            No group yet. <a href="#/groups">Create one</a>.
          </p>
        ) : (
          <table class="table" id="ov-groups">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Master</th>
                <th scope="col" class="num">Servers</th>
                <th scope="col" class="num">Slots</th>
                <th scope="col" class="num">Keys</th>
                <th scope="col" class="num">Memory</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => {
                const km = groupKeysAndMemory(g, s);
                keysTotal += km.keys ?? 0;
                memTotal += km.memory ?? 0;
                return (
                  <tr key={g.id} data-group={g.id}>
                    <th scope="row">{g.id}</th>
                    <td class="mono">{g.servers[0]?.server ?? '–'}</td>
                    <td class="num">{g.servers.length}</td>
                    <td class="num">{slotsByGroup.get(g.id) ?? 0}</td>
                    <td class="num">{fmtNum(km.keys)}</td>
                    <td class="num">{fmtBytes(km.memory)}</td>
                  </tr>
                );
              })}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td />
                <td class="num">{groups.reduce((n, g) => n + g.servers.length, 0)}</td>
                <td class="num">{1024 - (slotsByGroup.get(0) ?? 0)}</td>
                <td class="num">{fmtNum(keysTotal)}</td>
                <td class="num">{fmtBytes(memTotal)}</td>
              </tr>
            </tfoot>
          </table>
        )}
      </Card>
    </div>
  );
}
