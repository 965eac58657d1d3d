// Proxies: addresses, sessions, QPS, errors, health; add, reinit, remove.
import { useState } from 'preact/hooks';
import type { Overview } from '../api';
import { fmtBytes, fmtNum, proxyHealth, shortToken } from '../format';
import { confirm, run } from '../store';
import { ActionButton, Card, HealthBadge } from '../ui';

export function ProxiesPage({ ov }: { ov: Overview }) {
  const s = ov.stats;
  const proxies = [...s.proxy.models].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const [addr, setAddr] = useState('');
  const anyDc = proxies.some((p) => p.datacenter);

  const add = async (e: Event) => {
    e.preventDefault();
    const a = addr.trim();
    if (!a) return;
    const r = await run(`Add proxy ${a}`, (api) => api.createProxy(a));
    if (r.ok) setAddr('');
  };

  return (
    <div class="page page-proxies">
      <Card title="Add a proxy">
        <form class="inline-form" onSubmit={add} id="add-proxy-form">
          <label>
            Proxy admin address
            <input
              name="addr"
              value={addr}
              onInput={(e) => setAddr(e.currentTarget.value)}
              placeholder="127.0.0.1:11080"
              required
              autoComplete="off"
              spellcheck={false}
            />
          </label>
          <button type="submit" class="btn-primary">
            Add proxy
          </button>
          <span class="hint">The proxy's admin_addr (its HTTP API), not its RESP port.</span>
        </form>
      </Card>

      <Card title={`Proxies (${proxies.length})`}>
        {proxies.length === 0 ? (
          <p class="muted">No proxy registered.</p>
        ) : (
          <div class="table-wrap">
            <table class="table" id="proxies-table">
              <thead>
                <tr>
                  <th scope="col">ID / token</th>
                  <th scope="col">Proxy address</th>
                  <th scope="col">Admin address</th>
                  {anyDc && <th scope="col">DC</th>}
                  <th scope="col" class="num">Sessions</th>
                  <th scope="col" class="num">QPS</th>
                  <th scope="col" class="num">Commands</th>
                  <th scope="col" class="num">Fails</th>
                  <th scope="col" class="num">Redis errors</th>
                  <th scope="col" class="num">Memory</th>
                  <th scope="col">Health</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {proxies.map((p) => {
                  const st = s.proxy.stats[p.token];
                  const rt = st?.stats;
                  const h = proxyHealth(st);
                  return (
                    <tr key={p.token} data-token={p.token} data-admin={p.admin_addr} data-health={h.health}>
                      <td title={`token ${p.token}, pid ${p.pid}, host ${p.hostname}, started ${p.start_time}`}>
                        {p.id ?? '–'} <span class="small muted mono">{shortToken(p.token)}</span>
                      </td>
                      <td class="mono">{p.proxy_addr}</td>
                      <td class="mono">
                        <a href={`http://${p.admin_addr}/proxy`} target="_blank" rel="noopener">
                          {p.admin_addr}
                        </a>
                      </td>
                      {anyDc && <td>{p.datacenter || '–'}</td>}
                      <td class="num">{rt?.sessions ? `${fmtNum(rt.sessions.alive)} / ${fmtNum(rt.sessions.total)}` : '–'}</td>
                      <td class="num">{fmtNum(rt?.ops?.qps)}</td>
                      <td class="num">{fmtNum(rt?.ops?.total)}</td>
                      <td class="num">{fmtNum(rt?.ops?.fails)}</td>
                      <td class="num">{fmtNum(rt?.ops?.redis?.errors)}</td>
                      <td class="num">{fmtBytes(rt?.rusage?.mem)}</td>
                      <td>
                        <HealthBadge health={h.health} why={h.why} />
                        {h.why && h.health !== 'ok' && <div class="small muted cause">{h.why}</div>}
                      </td>
                      <td class="row-actions">
                        <ActionButton
                          aria-label={`Reinit proxy ${p.admin_addr}`}
                          title="Push the whole slot table and sentinels to this proxy again"
                          onClick={() => run(`Reinit proxy ${p.admin_addr}`, (api) => api.reinitProxy(p.token))}
                        >
                          Reinit
                        </ActionButton>
                        <ActionButton
                          class="btn-danger"
                          aria-label={`Remove proxy ${p.admin_addr}`}
                          onClick={async () => {
                            const r = await confirm({
                              title: 'Remove proxy',
                              body: `Remove proxy ${p.proxy_addr} (admin ${p.admin_addr}, token ${p.token}) from the cluster? The dashboard shuts it down.`,
                              confirmLabel: 'Remove proxy',
                              checkbox: 'Force: remove it even if it does not answer',
                            });
                            if (r.ok) await run(`Remove proxy ${p.admin_addr}`, (api) => api.removeProxy(p.token, r.checked));
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
    </div>
  );
}
