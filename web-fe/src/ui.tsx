// Shared components: notices (failed calls show the server's Cause), the
// confirmation dialog, badges, small form helpers.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Health } from './format';
import { dismiss, useStore } from './store';

export function Notices() {
  const { notices } = useStore();
  const errors = notices.filter((n) => n.kind === 'error');
  const oks = notices.filter((n) => n.kind === 'ok');
  return (
    <div class="notices">
      {/* role=alert: screen readers announce failures at once */}
      <div role="alert" aria-live="assertive" class="notice-stack">
        {errors.map((n) => (
          <div class="notice notice-error" key={n.id} data-notice="error">
            <div class="notice-text">
              {n.what && <strong class="notice-what">{n.what} failed: </strong>}
              <span class="notice-cause">{n.text}</span>
            </div>
            <button type="button" class="btn-icon" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
      <div role="status" aria-live="polite" class="notice-stack">
        {oks.map((n) => (
          <div class="notice notice-ok" key={n.id} data-notice="ok">
            <span class="notice-text">{n.text}</span>
            <button type="button" class="btn-icon" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}

export function ConfirmHost() {
  const { confirm } = useStore();
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (confirm && !d.open) {
      setChecked(false);
      d.showModal();
      cancelRef.current?.focus();
    } else if (!confirm && d.open) {
      d.close();
    }
  }, [confirm]);
  const answer = (ok: boolean) => confirm?.resolve({ ok, checked });
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onCancel={(e) => {
        e.preventDefault();
        answer(false);
      }}
    >
      {confirm && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            answer(true);
          }}
        >
          <h2 id="confirm-title">{confirm.title}</h2>
          <p id="confirm-body">{confirm.body}</p>
          {confirm.checkbox && (
            <label class="check">
              <input type="checkbox" checked={checked} onChange={(e) => setChecked(e.currentTarget.checked)} />
              {confirm.checkbox}
            </label>
          )}
          <div class="dialog-buttons">
            <button type="button" ref={cancelRef} onClick={() => answer(false)}>
              Cancel
            </button>
            <button type="submit" class={confirm.danger ? 'btn-danger' : 'btn-primary'}>
              {confirm.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

const healthText: Record<Health, string> = {
  ok: 'healthy',
  error: 'error',
  timeout: 'timeout',
  unknown: 'unknown',
  offline: 'offline',
};

export function HealthBadge({ health, why }: { health: Health; why?: string }) {
  return (
    <span class={`badge badge-${health === 'ok' ? 'ok' : health === 'unknown' ? 'muted' : 'bad'}`} title={why || undefined}>
      {healthText[health]}
    </span>
  );
}

export function Badge({ kind, children, title }: { kind: 'ok' | 'bad' | 'warn' | 'muted' | 'info'; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge badge-${kind}`} title={title}>
      {children}
    </span>
  );
}

export function Card({ title, children, actions, id }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={id} aria-label={typeof title === 'string' ? title : undefined}>
      <header class="card-head">
        <h2>{title}</h2>
        {actions && <div class="card-actions">{actions}</div>}
      </header>
      <div class="card-body">{children}</div>
    </section>
  );
}

export function Stat({ label, value, sub, id }: { label: string; value: ComponentChildren; sub?: ComponentChildren; id?: string }) {
  return (
    <div class="stat" id={id}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub !== undefined && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

// A button that disables itself while its (async) action runs.
export function ActionButton(
  props: Omit<JSX.ButtonHTMLAttributes<HTMLButtonElement>, 'onClick'> & { onClick: () => Promise<unknown> | void },
) {
  const { onClick, disabled, children, ...rest } = props;
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      {...rest}
      disabled={Boolean(disabled) || busy}
      aria-busy={busy || undefined}
      onClick={async () => {
        setBusy(true);
        try {
          await onClick();
        } finally {
          setBusy(false);
        }
      }}
    >
      {children}
    </button>
  );
}

// Parses an integer field; NaN when empty or not an integer.
export function intValue(s: string): number {
  return /^\s*[+-]?\d+\s*$/.test(s) ? Number(s) : NaN;
}
