// Audit: the dashboard's log of mutating admin calls and sign-ins (GET
// api/topom/audit, newest first): time, user, from where, what, result.
// Reloaded every 3 s while the page is open, and by the Refresh button.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getAudit, type AuditEntry } from '../api';
import { ActionButton, Badge, Card } from '../ui';

const RELOAD_MS = 3000;

function who(e: AuditEntry) {
  return e.user === '' ? 'anonymous' : e.user === 'xauth' ? 'xauth (compat)' : e.user;
}

function action(e: AuditEntry) {
  if (e.route === '/api/auth/login') return 'sign in';
  if (e.route === '/api/auth/logout') return 'sign out';
  return `${e.method} ${e.route.replace('/:xauth', '')}`; // the router shows where the xauth was
}

export function AuditPage() {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [filter, setFilter] = useState('');

  const load = async () => {
    try {
      setEntries(await getAudit());
      setError(undefined);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return; // signed out: the sign-in page takes over
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  useEffect(() => {
    void load();
    const t = window.setInterval(() => void load(), RELOAD_MS);
    return () => window.clearInterval(t);
  }, []);

  const f = filter.trim().toLowerCase();
  const shown = (entries ?? []).filter(
    (e) => !f || [who(e), e.remote, action(e), e.result].some((x) => x.toLowerCase().includes(f)),
  );

  return (
    <div class="page page-audit">
      <Card
        title={`Admin actions${entries ? ` (${shown.length}${f ? ` of ${entries.length}` : ''})` : ''}`}
        actions={
          <ActionButton id="audit-refresh" onClick={load}>
            Refresh
          </ActionButton>
        }
      >
        <form class="inline-form" onSubmit={(e) => e.preventDefault()}>
          <label>
            Filter
            <input
              id="audit-filter"
              value={filter}
              onInput={(e) => setFilter(e.currentTarget.value)}
              placeholder="user, address, action or result"
              autoComplete="off"
              spellcheck={false}
            />
          </label>
          <span class="hint">
            Every call that changes something, sign-ins and refused calls, kept in memory (the last 1000; the
            dashboard's log has them all).
          </span>
        </form>
        {error && (
          <div class="banner banner-bad" role="status">
            Cannot load the audit log: {error}
          </div>
        )}
        {!entries ? (
          !error && <p class="muted">Loading…</p>
        ) : shown.length === 0 ? (
          <p class="muted" id="audit-empty">
            {entries.length === 0 ? 'Nothing recorded since the dashboard started.' : 'No entry matches the filter.'}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="table" id="audit-table">
              <caption class="sr-only">Admin actions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">From</th>
                  <th scope="col">Action</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((e, i) => (
                  <tr
                    key={`${e.unix_ms}-${i}`}
                    data-user={e.user}
                    data-route={e.route}
                    data-ok={e.ok ? 'true' : 'false'}
                  >
                    <td class="mono small">
                      <time dateTime={e.time} title={e.time}>
                        {new Date(e.unix_ms).toLocaleString()}
                      </time>
                    </td>
                    <td>{who(e)}</td>
                    <td class="mono small">{e.remote}</td>
                    <td class="mono small audit-action">{action(e)}</td>
                    <td>
                      <Badge kind={e.ok ? 'ok' : 'bad'}>{e.ok ? 'ok' : 'failed'}</Badge>{' '}
                      <span class="audit-result">{e.ok && e.result.startsWith('OK') ? '' : e.result}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
