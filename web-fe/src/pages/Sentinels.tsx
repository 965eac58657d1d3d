// Sentinels: add/remove, resync, and the masters each sentinel monitors for
// this product (GET /api/topom/sentinels/info/:addr/monitored, polled while
// the page is open).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Overview, type SentinelMonitored } from '../api';
import { serverHealth } from '../format';
import { confirm, confirmed, getState, run } from '../store';
import { ActionButton, Badge, Card, HealthBadge } from '../ui';

type Monitored = Record<string, { data?: SentinelMonitored; error?: string }>;

function useMonitored(servers: string[]): Monitored {
  const [mon, setMon] = useState<Monitored>({});
  const key = servers.join(',');
  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    const load = async () => {
      const api = getState().api;
      if (!api) return;
      const out: Monitored = {};
      await Promise.all(
        servers.map(async (addr) => {
          try {
            out[addr] = { data: await api.sentinelMonitored(addr) };
          } catch (e) {
            out[addr] = { error: e instanceof ApiError || e instanceof Error ? e.message : String(e) };
          }
        }),
      );
      if (!stop) setMon(out);
    };
    const loop = async () => {
      await load();
      if (!stop) timer = window.setTimeout(loop, 3000);
    };
    void loop();
    return () => {
      stop = true;
      window.clearTimeout(timer);
    };
  }, [key]);
  return mon;
}

export function SentinelsPage({ ov }: { ov: Overview }) {
  const s = ov.stats;
  const model = s.sentinels?.model ?? {};
  const servers = model.servers ?? [];
  const mon = useMonitored(servers);
  const [addr, setAddr] = useState('');
  const masters = s.sentinels?.masters ?? {};

  return (
    <div class="page page-sentinels">
      <Card
        title={
          <span>
            Sentinels {model.out_of_sync ? <Badge kind="warn">out of sync</Badge> : servers.length > 0 ? <Badge kind="ok">in sync</Badge> : null}
          </span>
        }
        actions={
          <ActionButton
            id="sentinels-resync"
            disabled={servers.length === 0}
            onClick={async () => {
              if (await confirmed({ title: 'Resync sentinels', body: `Remove and re-register every group master with ${servers.length} sentinel(s) as ${ov.model.product_name}-<gid>, and push the sentinels to every proxy?`, confirmLabel: 'Resync', danger: false }))
                await run('Resync sentinels', (api) => api.resyncSentinels());
            }}
          >
            Resync all
          </ActionButton>
        }
      >
        <form
          class="inline-form"
          id="add-sentinel-form"
          onSubmit={async (e) => {
            e.preventDefault();
            const a = addr.trim();
            if (!a) return;
            const r = await run(`Add sentinel ${a}`, (api) => api.addSentinel(a));
            if (r.ok) setAddr('');
          }}
        >
          <label>
            Sentinel address
            <input name="addr" value={addr} onInput={(e) => setAddr(e.currentTarget.value)} placeholder="127.0.0.1:26379" required autoComplete="off" spellcheck={false} />
          </label>
          <button type="submit" class="btn-primary">
            Add sentinel
          </button>
        </form>
        {servers.length === 0 ? (
          <p class="muted">No sentinel. Add one to have Redis Sentinel watch the group masters.</p>
        ) : (
          <div class="table-wrap">
            <table class="table" id="sentinels-table">
              <thead>
                <tr>
                  <th scope="col">Sentinel</th>
                  <th scope="col">Health</th>
                  <th scope="col" class="num">Masters (this product)</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {servers.map((a) => {
                  const st = s.sentinels?.stats?.[a];
                  const m = mon[a];
                  const h = st ? serverHealth(st) : m?.error ? { health: 'error' as const, why: m.error } : m?.data ? { health: 'ok' as const, why: '' } : serverHealth(undefined);
                  return (
                    <tr key={a} data-sentinel={a} data-health={h.health}>
                      <td class="mono">{a}</td>
                      <td>
                        <HealthBadge health={h.health} why={h.why} />
                        {h.why && h.health !== 'ok' && <div class="small muted cause">{h.why}</div>}
                      </td>
                      <td class="num">{m?.data ? Object.keys(m.data.masters).length : '–'}</td>
                      <td class="row-actions">
                        <ActionButton
                          class="btn-danger"
                          aria-label={`Remove sentinel ${a}`}
                          onClick={async () => {
                            const r = await confirm({
                              title: 'Remove sentinel',
                              body: `Remove sentinel ${a}? The dashboard removes this product's masters from it.`,
                              confirmLabel: 'Remove sentinel',
                              checkbox: 'Force: remove it even if it does not answer',
                            });
                            if (r.ok) await run(`Remove sentinel ${a}`, (api) => api.delSentinel(a, r.checked));
                          }}
                        >
                          Remove
                        </ActionButton>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>

      {Object.keys(masters).length > 0 && (
        <Card title="Masters according to the sentinels">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Master (sentinels)</th>
                <th scope="col">Master (group)</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(masters)
                .sort(([a], [b]) => Number(a) - Number(b))
                .map(([g, addr2]) => {
                  const expected = ov.stats.group.models.find((x) => String(x.id) === g)?.servers[0]?.server;
                  return (
                    <tr key={g} data-gid={g}>
                      <td>{g}</td>
                      <td class="mono">{addr2}</td>
                      <td class={`mono ${expected !== addr2 ? 'text-bad' : ''}`}>{expected ?? 'no such group'}</td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </Card>
      )}

      {servers.map((a) => (
        <MonitoredCard key={a} addr={a} entry={mon[a]} ov={ov} />
      ))}
    </div>
  );
}

function MonitoredCard({ addr, entry, ov }: { addr: string; entry: Monitored[string] | undefined; ov: Overview }) {
  const groupMaster = new Map(ov.stats.group.models.map((g) => [`${ov.model.product_name}-${g.id}`, g.servers[0]?.server ?? '']));
  return (
    <Card title={<span>Monitored by <span class="mono">{addr}</span></span>}>
      {!entry ? (
        <p class="muted">Loading…</p>
      ) : entry.error ? (
        <p class="text-bad">Cannot read it: {entry.error}</p>
      ) : Object.keys(entry.data?.masters ?? {}).length === 0 ? (
        <p class="muted">No master of this product: run “Resync all”.</p>
      ) : (
        <div class="table-wrap">
          <table class="table monitored-table" data-sentinel={addr}>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Master</th>
                <th scope="col">Expected</th>
                <th scope="col">Flags</th>
                <th scope="col" class="num">Replicas</th>
                <th scope="col" class="num">Other sentinels</th>
                <th scope="col" class="num">Quorum</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(entry.data!.masters)
                .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
                .map(([name, f]) => {
                  const at = `${f.ip}:${f.port}`;
                  const expected = groupMaster.get(name);
                  const replicas = entry.data!.slaves[name] ?? [];
                  return (
                    <tr key={name} data-master={name}>
                      <td class="mono">{name}</td>
                      <td class="mono">{at}</td>
                      <td class={`mono ${expected !== undefined && expected !== at ? 'text-bad' : ''}`}>{expected ?? 'no such group'}</td>
                      <td>
                        <Badge kind={f.flags === 'master' ? 'ok' : 'bad'}>{f.flags ?? '?'}</Badge>
                      </td>
                      <td class="num" title={replicas.map((r) => `${r.ip}:${r.port} ${r.flags ?? ''}`).join('\n')}>
                        {f['num-slaves'] ?? replicas.length}
                      </td>
                      <td class="num">{f['num-other-sentinels'] ?? '–'}</td>
                      <td class="num">{f.quorum ?? '–'}</td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
