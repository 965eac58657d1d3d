// The sign-in page (shown while there is no session) and the warning banner
// for admin_compat_xauth.
import { useEffect, useRef, useState } from 'preact/hooks';
import { signIn, useStore } from './store';

export function CompatBanner() {
  const { compatXauth } = useStore();
  if (!compatXauth) return null;
  return (
    <div class="banner banner-bad banner-compat" id="compat-warning" role="alert">
      <strong>admin_compat_xauth is on:</strong> anyone who can reach this port can administer the cluster (Codis's
      xauth is derived from the product name). Turn it off in dashboard.toml unless real Codis tools need it, on a
      trusted network.
    </div>
  );
}

export function SignInPage() {
  const { signInMessage } = useStore();
  const [user, setUser] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const pwRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Sign in · Codis dashboard';
    pwRef.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    const err = await signIn(user.trim(), password);
    setBusy(false);
    if (err) {
      setError(err);
      setPassword('');
      pwRef.current?.focus();
    }
  };

  return (
    <div class="signin-layout">
      <main class="signin-card" id="main">
        <div class="brand signin-brand">
          <span class="logo" aria-hidden="true">C</span>
          <span class="brand-name">Codis dashboard</span>
        </div>
        <h1>Sign in</h1>
        <CompatBanner />
        {signInMessage && !error && (
          <p class="signin-note" id="signin-note" role="status">
            {signInMessage}
          </p>
        )}
        <form id="signin-form" class="stack-form" onSubmit={submit} aria-describedby="signin-hint">
          <label>
            User
            <input
              name="username"
              id="signin-user"
              value={user}
              onInput={(e) => setUser(e.currentTarget.value)}
              autoComplete="username"
              spellcheck={false}
              required
            />
          </label>
          <label>
            Password
            <input
              name="password"
              id="signin-password"
              type="password"
              ref={pwRef}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              autoComplete="current-password"
              required
            />
          </label>
          {error && (
            <div class="banner banner-bad" id="signin-error" role="alert">
              {error}
            </div>
          )}
          <button type="submit" class="btn-primary" disabled={busy} aria-busy={busy || undefined}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p class="hint small" id="signin-hint">
          <strong>admin</strong> signs in with the admin secret (admin_auth, or the admin_auth file beside
          dashboard.toml); operators with the password of their line in admin_users_file.
        </p>
      </main>
    </div>
  );
}
