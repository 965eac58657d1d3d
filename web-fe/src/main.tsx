// Entry point: sign-in, layout, hash routing, polling.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { OverviewPage } from './pages/Overview';
import { ProxiesPage } from './pages/Proxies';
import { GroupsPage } from './pages/Groups';
import { SlotsPage } from './pages/Slots';
import { SentinelsPage } from './pages/Sentinels';
import { AuditPage } from './pages/Audit';
import { CompatBanner, SignInPage } from './signin';
import { checkSession, signOut, useStore } from './store';
import { ActionButton, ConfirmHost, Notices } from './ui';
import './style.css';

const routes = [
  { path: 'overview', title: 'Overview', page: OverviewPage },
  { path: 'proxies', title: 'Proxies', page: ProxiesPage },
  { path: 'groups', title: 'Groups', page: GroupsPage },
  { path: 'slots', title: 'Slots', page: SlotsPage },
  { path: 'sentinels', title: 'Sentinels', page: SentinelsPage },
  { path: 'audit', title: 'Audit', page: AuditPage },
] as const;

function currentRoute(): string {
  const h = window.location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return routes.some((r) => r.path === h) ? h : 'overview';
}

function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function ConnectionStatus() {
  const { pollError, updated, overview } = useStore();
  const [, tick] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => tick((n) => n + 1), 1000);
    return () => window.clearInterval(t);
  }, []);
  const age = updated ? Math.round((Date.now() - updated) / 1000) : undefined;
  if (pollError) {
    return (
      <span class="conn conn-bad" id="conn-status" title={pollError}>
        <span class="dot" aria-hidden="true" /> disconnected{age !== undefined ? ` (last update ${age} s ago)` : ''}
      </span>
    );
  }
  if (!overview) return <span class="conn" id="conn-status">connecting…</span>;
  if (overview.stats.closed) {
    return (
      <span class="conn conn-bad" id="conn-status">
        <span class="dot" aria-hidden="true" /> dashboard closed
      </span>
    );
  }
  return (
    <span class="conn conn-ok" id="conn-status">
      <span class="dot" aria-hidden="true" /> live
    </span>
  );
}

// Who is signed in, and the way out.
function UserBox() {
  const { session } = useStore();
  if (!session) return null;
  return (
    <span class="user-box">
      <span title={`session ends ${new Date(session.expires * 1000).toLocaleString()}`}>
        <span class="sr-only">Signed in as </span>
        <span id="signed-in-user">{session.user}</span>
      </span>
      <ActionButton id="sign-out" onClick={signOut}>
        Sign out
      </ActionButton>
    </span>
  );
}

function Root() {
  const { auth } = useStore();
  if (auth === 'checking') return <p class="muted" style="padding: 16px">Loading…</p>;
  if (auth === 'signed-out') return <SignInPage />;
  return <App />;
}

function App() {
  const route = useRoute();
  const { overview, pollError } = useStore();
  const r = routes.find((x) => x.path === route) ?? routes[0];
  const Page = r.page;
  const h1 = useRef<HTMLHeadingElement>(null);
  const first = useRef(true);
  useEffect(() => {
    document.title = `${r.title} · ${overview?.model.product_name ?? 'Codis'} dashboard`;
  }, [r.title, overview?.model.product_name]);
  useEffect(() => {
    // Move focus to the new page's heading (not on the first load).
    if (first.current) first.current = false;
    else h1.current?.focus();
  }, [route]);
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); h1.current?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <div class="brand">
          <span class="logo" aria-hidden="true">C</span>
          <span>
            <span class="brand-name">Codis</span>{' '}
            <span class="product" id="product-name">{overview?.model.product_name ?? '…'}</span>
          </span>
        </div>
        <div class="topbar-info">
          <span title="dashboard address">{overview?.model.admin_addr ?? ''}</span>
          <ConnectionStatus />
          <UserBox />
        </div>
      </header>
      <nav class="sidenav" aria-label="Pages">
        <ul>
          {routes.map((x) => (
            <li key={x.path}>
              <a href={`#/${x.path}`} aria-current={x.path === route ? 'page' : undefined} data-nav={x.path}>
                {x.title}
              </a>
            </li>
          ))}
        </ul>
        <p class="nav-foot">
          <a href="topom" target="_blank" rel="noopener">raw /topom JSON</a>
          <br />
          <a href="metrics" target="_blank" rel="noopener">/metrics</a>
        </p>
      </nav>
      <main id="main" class="content">
        <h1 ref={h1} tabIndex={-1}>{r.title}</h1>
        <CompatBanner />
        {pollError && (
          <div class="banner banner-bad" role="status">
            Cannot load the dashboard state: {pollError}. Retrying every second.
          </div>
        )}
        {overview ? <Page ov={overview} /> : !pollError && <p class="muted">Loading…</p>}
      </main>
      <Notices />
      <ConfirmHost />
    </div>
  );
}

render(<Root />, document.getElementById('app')!);
void checkSession();
