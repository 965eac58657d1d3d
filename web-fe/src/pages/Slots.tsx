// Slots: the map of all 1024 slots coloured by owning group (each slot an
// element with data-slot / data-group), migrating and pending slots with
// their target; range selection (mouse drag, shift-click, arrow keys, or by
// typing the first and last slot) to migrate or assign; migrate-some;
// rebalance; pause/resume and pacing of the action queue; the live action
// table with a progress bar.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ActionRow, Overview, SlotMapping } from '../api';
import { groupColor, OFFLINE_COLOR } from '../colors';
import { fmtDuration, fmtNum } from '../format';
import { confirmed, fallbackActions, notify, run, useStore, type BatchSlot } from '../store';
import { ActionButton, Badge, Card, intValue } from '../ui';

const SLOTS = 1024;
const COLS = 32;

interface Range {
  beg: number;
  end: number;
}

export function SlotsPage({ ov }: { ov: Overview }) {
  const s = ov.stats;
  const groups = useMemo(() => [...s.group.models].sort((a, b) => a.id - b.id), [s.group.models]);
  const [begText, setBegText] = useState('');
  const [endText, setEndText] = useState('');
  const [target, setTarget] = useState('');
  const beg = intValue(begText);
  const end = intValue(endText === '' ? begText : endText);
  const sel: Range | null =
    Number.isInteger(beg) && Number.isInteger(end) && beg >= 0 && end < SLOTS && beg <= end ? { beg, end } : null;
  const targetGid = intValue(target || String(groups[0]?.id ?? ''));

  const select = (r: Range) => {
    setBegText(String(r.beg));
    setEndText(String(r.end));
  };

  const counts = new Map<number, number>();
  for (const m of s.slots) counts.set(m.group_id, (counts.get(m.group_id) ?? 0) + 1);

  const checkRange = (label: string): boolean => {
    if (sel) return true;
    notify('error', `select a slot range first (first and last slot between 0 and ${SLOTS - 1}, first <= last)`, label);
    return false;
  };
  const checkTarget = (label: string): boolean => {
    if (Number.isInteger(targetGid) && targetGid > 0) return true;
    notify('error', 'choose a target group (create one on the Groups page)', label);
    return false;
  };

  const migrate = async () => {
    const label = 'Migrate slots';
    if (!checkRange(label) || !checkTarget(label) || !sel) return;
    await run(`Migrate slots ${sel.beg}-${sel.end} to group ${targetGid}`, (api) => api.createActionRange(sel.beg, sel.end, targetGid));
  };

  const assign = async () => {
    const label = 'Assign slots';
    if (!checkRange(label) || !checkTarget(label) || !sel) return;
    const owned = s.slots.filter((m) => m.id >= sel.beg && m.id <= sel.end && m.group_id !== 0 && m.group_id !== targetGid);
    if (owned.length > 0) {
      const ok = await confirmed({
        title: 'Reassign owned slots without moving data',
        body: `${owned.length} of these slots already belong to another group. Assigning re-points them to group ${targetGid} WITHOUT moving their keys (those keys become unreachable). To move data use "Migrate" instead. Continue?`,
        confirmLabel: 'Reassign',
      });
      if (!ok) return;
    }
    const slots: { id: number; group_id: number }[] = [];
    for (let i = sel.beg; i <= sel.end; i++) slots.push({ id: i, group_id: targetGid });
    await run(`Assign slots ${sel.beg}-${sel.end} to group ${targetGid}`, (api) => api.assignSlots(slots));
  };

  const offline = async () => {
    const label = 'Take slots offline';
    if (!checkRange(label) || !sel) return;
    const ok = await confirmed({
      title: 'Take slots offline',
      body: `Unassign slots ${sel.beg}-${sel.end}? Proxies will refuse commands for their keys until they are assigned again.`,
      confirmLabel: 'Take offline',
    });
    if (!ok) return;
    const slots: { id: number; group_id: number }[] = [];
    for (let i = sel.beg; i <= sel.end; i++) slots.push({ id: i, group_id: 0 });
    await run(label, (api) => api.assignSlotsOffline(slots));
  };

  return (
    <div class="page page-slots">
      <div class="slots-layout">
        <Card title="Slot map" id="slot-map-card">
          <Legend groups={groups.map((g) => g.id)} counts={counts} />
          <SlotMap slots={s.slots} sel={sel} onSelect={select} />
          <p class="small muted slot-help">
            Drag across the map (or click, then shift-click) to select a range; or focus the map and use the arrow keys
            (Shift + arrows extends, Enter starts a new range); or type the slot numbers in “Selected range”.
          </p>
        </Card>
        <div class="slots-side">
          <Card title="Selected range">
            <form
              class="stack-form"
              id="range-form"
              onSubmit={(e) => {
                e.preventDefault();
                void migrate();
              }}
            >
              <div class="row">
                <label>
                  First slot
                  <input id="range-beg" type="number" min={0} max={SLOTS - 1} value={begText} onInput={(e) => setBegText(e.currentTarget.value)} />
                </label>
                <label>
                  Last slot
                  <input id="range-end" type="number" min={0} max={SLOTS - 1} value={endText} onInput={(e) => setEndText(e.currentTarget.value)} />
                </label>
              </div>
              <p class="small" aria-live="polite" id="range-summary">
                {sel ? <RangeSummary slots={s.slots} sel={sel} /> : 'No range selected.'}
              </p>
              <label>
                Target group
                <select id="range-target" value={String(targetGid)} onChange={(e) => setTarget(e.currentTarget.value)}>
                  {groups.length === 0 && <option value="">no group</option>}
                  {groups.map((g) => (
                    <option key={g.id} value={String(g.id)}>
                      Group {g.id} ({counts.get(g.id) ?? 0} slots)
                    </option>
                  ))}
                </select>
              </label>
              <div class="button-row">
                <button type="submit" class="btn-primary" id="migrate-range">
                  Migrate to group
                </button>
                <ActionButton id="assign-range" onClick={assign} title="Assign the slots to the group directly (for offline slots: no data moves)">
                  Assign
                </ActionButton>
                <ActionButton id="offline-range" class="btn-danger" onClick={offline}>
                  Take offline
                </ActionButton>
              </div>
            </form>
          </Card>
          <ActionQueue ov={ov} />
        </div>
      </div>
      <div class="slots-more">
        <MigrateSome groups={groups.map((g) => g.id)} counts={counts} />
        <Card title="Rebalance">
          <p class="small">Move slots so that every group owns floor/ceil(1024 / groups) slots (unowned slots are assigned at once).</p>
          <ActionButton
            id="rebalance"
            onClick={async () => {
              const plan = await run('Plan rebalance', (api) => api.rebalance(false), { quiet: true });
              if (!plan.ok) return;
              const n = Object.keys(plan.value ?? {}).length;
              if (n === 0) {
                notify('ok', 'Rebalance: the slots are already balanced');
                return;
              }
              const byGroup = new Map<number, number>();
              for (const g of Object.values(plan.value)) byGroup.set(g, (byGroup.get(g) ?? 0) + 1);
              const desc = [...byGroup].map(([g, c]) => `${c} to group ${g}`).join(', ');
              if (await confirmed({ title: 'Rebalance slots', body: `Rebalance moves ${n} slot${n === 1 ? '' : 's'} (${desc}). Start?`, confirmLabel: 'Rebalance' }))
                await run('Rebalance', (api) => api.rebalance(true));
            }}
          >
            Rebalance all slots…
          </ActionButton>
        </Card>
      </div>
    </div>
  );
}

function Legend({ groups, counts }: { groups: number[]; counts: Map<number, number> }) {
  return (
    <ul class="legend" aria-label="Legend">
      {groups.map((g) => (
        <li key={g} data-legend-group={g}>
          <span class="swatch" style={{ background: groupColor(g) }} aria-hidden="true" /> Group {g}: {counts.get(g) ?? 0}
        </li>
      ))}
      <li>
        <span class="swatch" style={{ background: OFFLINE_COLOR }} aria-hidden="true" /> offline: {counts.get(0) ?? 0}
      </li>
      <li>
        <span class="swatch swatch-migrating" aria-hidden="true" /> migrating
      </li>
      <li>
        <span class="swatch swatch-pending" aria-hidden="true" /> pending
      </li>
    </ul>
  );
}

function RangeSummary({ slots, sel }: { slots: SlotMapping[]; sel: Range }) {
  const by = new Map<number, number>();
  let actions = 0;
  for (let i = sel.beg; i <= sel.end; i++) {
    const m = slots[i];
    if (!m) continue;
    by.set(m.group_id, (by.get(m.group_id) ?? 0) + 1);
    if (m.action?.state) actions++;
  }
  const n = sel.end - sel.beg + 1;
  const parts = [...by].sort((a, b) => a[0] - b[0]).map(([g, c]) => (g === 0 ? `${c} offline` : `${c} in group ${g}`));
  return (
    <>
      Slots {sel.beg}–{sel.end} ({n} slot{n === 1 ? '' : 's'}): {parts.join(', ')}
      {actions > 0 && `; ${actions} with an action in flight`}.
    </>
  );
}

function slotTitle(m: SlotMapping): string {
  const owner = m.group_id === 0 ? 'offline' : `group ${m.group_id}`;
  if (!m.action?.state) return `slot ${m.id}: ${owner}`;
  // docs/design.md §7.1: prepared = proxies hold the slot's requests (locked).
  const locked = m.action.state === 'prepared' ? ' (locked)' : '';
  return `slot ${m.id}: ${owner}, ${m.action.state}${locked} → group ${m.action.target_id}`;
}

function SlotMap({ slots, sel, onSelect }: { slots: SlotMapping[]; sel: Range | null; onSelect: (r: Range) => void }) {
  const [cursor, setCursor] = useState(0);
  const anchor = useRef<number | null>(null);
  const dragging = useRef(false);
  const mapRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const up = () => {
      dragging.current = false;
    };
    window.addEventListener('mouseup', up);
    return () => window.removeEventListener('mouseup', up);
  }, []);

  const slotOf = (e: Event): number | null => {
    const el = (e.target as HTMLElement).closest('[data-slot]') as HTMLElement | null;
    return el ? Number(el.dataset.slot) : null;
  };
  const range = (a: number, b: number): Range => ({ beg: Math.min(a, b), end: Math.max(a, b) });

  const onKeyDown = (e: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLS, ArrowDown: COLS };
    let next = cursor;
    if (e.key in moves) next = cursor + moves[e.key];
    else if (e.key === 'Home') next = e.ctrlKey ? 0 : cursor - (cursor % COLS);
    else if (e.key === 'End') next = e.ctrlKey ? SLOTS - 1 : cursor - (cursor % COLS) + COLS - 1;
    else if (e.key === 'PageUp') next = cursor - COLS * 8;
    else if (e.key === 'PageDown') next = cursor + COLS * 8;
    else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      anchor.current = cursor;
      onSelect({ beg: cursor, end: cursor });
      return;
    } else return;
    e.preventDefault();
    next = Math.max(0, Math.min(SLOTS - 1, next));
    setCursor(next);
    if (e.shiftKey) {
      if (anchor.current === null) anchor.current = cursor;
      onSelect(range(anchor.current, next));
    }
  };

  return (
    <div
      ref={mapRef}
      class="slot-map"
      id="slot-map"
      role="listbox"
      aria-multiselectable="true"
      aria-label="Slot map, 1024 slots, 32 per row"
      aria-activedescendant={`slot-${cursor}`}
      tabIndex={0}
      onKeyDown={onKeyDown}
      onMouseDown={(e) => {
        const id = slotOf(e);
        if (id === null || e.button !== 0) return;
        e.preventDefault();
        mapRef.current?.focus();
        if (e.shiftKey && anchor.current !== null) {
          onSelect(range(anchor.current, id));
        } else {
          anchor.current = id;
          onSelect({ beg: id, end: id });
        }
        setCursor(id);
        dragging.current = true;
      }}
      onMouseOver={(e) => {
        if (!dragging.current || anchor.current === null) return;
        const id = slotOf(e);
        if (id === null) return;
        onSelect(range(anchor.current, id));
        setCursor(id);
      }}
    >
      {slots.map((m) => {
        const state = m.action?.state || undefined;
        const tgt = state ? m.action.target_id : undefined;
        const selected = sel !== null && m.id >= sel.beg && m.id <= sel.end;
        const base = groupColor(m.group_id);
        let background = base;
        if (state && tgt !== undefined && state !== 'pending') {
          background = `linear-gradient(135deg, ${base} 0 45%, ${groupColor(tgt)} 55% 100%)`;
        }
        const cls = `slot${selected ? ' sel' : ''}${m.id === cursor ? ' cursor' : ''}${state ? ` st-${state}` : ''}`;
        return (
          <div
            key={m.id}
            id={`slot-${m.id}`}
            class={cls}
            role="option"
            aria-selected={selected}
            aria-label={slotTitle(m)}
            title={slotTitle(m)}
            data-slot={m.id}
            data-group={m.group_id}
            data-state={state}
            data-target={tgt}
            style={{ background }}
          />
        );
      })}
    </div>
  );
}

function MigrateSome({ groups, counts }: { groups: number[]; counts: Map<number, number> }) {
  const [src, setSrc] = useState('');
  const [dst, setDst] = useState('');
  const [n, setN] = useState('');
  const srcG = intValue(src || String(groups[0] ?? ''));
  const dstG = intValue(dst || String(groups[1] ?? groups[0] ?? ''));
  return (
    <Card title="Migrate some">
      <form
        class="stack-form"
        id="some-form"
        onSubmit={async (e) => {
          e.preventDefault();
          const num = intValue(n);
          if (!Number.isInteger(num) || num <= 0) {
            notify('error', `invalid number of slots "${n}"`, 'Migrate some');
            return;
          }
          await run(`Migrate ${num} slots from group ${srcG} to group ${dstG}`, (api) => api.createActionSome(srcG, dstG, num));
        }}
      >
        <div class="row">
          <label>
            From
            <select id="some-src" value={String(srcG)} onChange={(e) => setSrc(e.currentTarget.value)}>
              {groups.map((g) => (
                <option key={g} value={String(g)}>
                  Group {g} ({counts.get(g) ?? 0})
                </option>
              ))}
            </select>
          </label>
          <label>
            To
            <select id="some-dst" value={String(dstG)} onChange={(e) => setDst(e.currentTarget.value)}>
              {groups.map((g) => (
                <option key={g} value={String(g)}>
                  Group {g}
                </option>
              ))}
            </select>
          </label>
          <label>
            Slots
            <input id="some-num" type="number" min={1} max={SLOTS} value={n} onInput={(e) => setN(e.currentTarget.value)} required class="short" />
          </label>
        </div>
        <div class="button-row">
          <button type="submit" disabled={groups.length < 2}>
            Migrate some
          </button>
        </div>
      </form>
    </Card>
  );
}

function batchProgress(batch: Map<number, BatchSlot>): { pct: number; done: number; total: number } {
  let max = 0;
  let moved = 0;
  let done = 0;
  let empty = 0;
  let emptyDone = 0;
  for (const b of batch.values()) {
    if (b.done) done++;
    if (b.max > 0) {
      max += b.max;
      moved += b.done ? b.max : b.left >= 0 ? b.max - b.left : 0;
    } else {
      empty++;
      if (b.done) emptyDone++;
    }
  }
  const total = batch.size;
  if (total === 0) return { pct: 0, done: 0, total: 0 };
  // Weigh slots without keys as one key each, so empty slots still count.
  const pct = (moved + emptyDone) / (max + empty);
  return { pct: Math.max(0, Math.min(1, pct)), done, total };
}

function ActionQueue({ ov }: { ov: Overview }) {
  const { batch } = useStore();
  const s = ov.stats;
  const sa = s.slot_actions;
  const rows: ActionRow[] = (sa?.actions ?? fallbackActions(ov)).slice().sort((a, b) => a.index - b.index || a.id - b.id);
  const [interval, setIntervalText] = useState('');
  const paused = s.slot_action.disabled;
  const prog = batchProgress(batch);
  const est = sa?.estimate;
  const status = s.slot_action.progress?.status ?? '';
  return (
    <Card
      title={
        <span>
          Migration actions {paused ? <Badge kind="warn">paused</Badge> : <Badge kind="ok">running</Badge>}
        </span>
      }
      id="actions-card"
      actions={
        <ActionButton
          id="toggle-queue"
          onClick={() => run(paused ? 'Resume the action queue' : 'Pause the action queue', (api) => api.setActionDisabled(!paused))}
        >
          {paused ? 'Resume' : 'Pause'}
        </ActionButton>
      }
    >
      <div class="queue-head">
        <form
          class="inline-form"
          id="interval-form"
          onSubmit={async (e) => {
            e.preventDefault();
            const v = intValue(interval);
            if (!Number.isInteger(v) || v < 0) {
              notify('error', `invalid interval "${interval}" (microseconds, 0-1000000)`, 'Set pacing');
              return;
            }
            const r = await run(`Set the pause between batches to ${v} µs`, (api) => api.setActionInterval(v));
            if (r.ok) setIntervalText('');
          }}
        >
          <label>
            Pause between batches (µs)
            <input
              id="interval"
              type="number"
              min={0}
              max={1000000}
              class="short"
              value={interval}
              placeholder={String(s.slot_action.interval)}
              onInput={(e) => setIntervalText(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Set pacing</button>
        </form>
        <div class="queue-stats small">
          <span>
            In flight: <strong id="actions-remaining">{sa?.remaining ?? rows.length}</strong>
          </span>
          <span>
            Keys left:{' '}
            <strong id="keys-left">
              {!sa ? '–' : sa.keys_left_complete ? fmtNum(sa.keys_left) : sa.keys_left > 0 ? `${fmtNum(sa.keys_left)}+` : 'counting…'}
            </strong>
          </span>
          {rows.length > 0 && est?.keys_per_sec !== undefined && <span>Speed: {fmtNum(est.keys_per_sec)} keys/s</span>}
          {rows.length > 0 && est?.eta_seconds != null && <span>ETA: {fmtDuration(est.eta_seconds)}</span>}
          <span>Migrate commands running: {s.slot_action.executor ?? 0}</span>
        </div>
      </div>
      {prog.total > 0 && (
        <div class="progress-wrap">
          <div
            class="progress"
            id="actions-progress"
            role="progressbar"
            aria-label="Migration progress of the current batch"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(prog.pct * 100)}
            data-done={prog.done}
            data-total={prog.total}
          >
            <div class="progress-bar" style={{ width: `${(prog.pct * 100).toFixed(1)}%` }} />
          </div>
          <span class="small">
            {Math.round(prog.pct * 100)}% — {prog.done} of {prog.total} slot{prog.total === 1 ? '' : 's'} done
          </span>
        </div>
      )}
      {status && (
        <p class={`mono small ${status.startsWith('[ERROR]') ? 'text-bad' : ''}`} id="action-status">
          {status}
        </p>
      )}
      {rows.length === 0 ? (
        <p class="muted" id="no-actions">
          No slot action queued.
        </p>
      ) : (
        <div class="table-wrap actions-wrap">
          <table class="table" id="actions-table">
            <thead>
              <tr>
                <th scope="col">Slot</th>
                <th scope="col">Group</th>
                <th scope="col" class="num">Order</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Keys left</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id} data-slot={a.id} data-state={a.state} data-keys-left={a.keys_left}>
                  <th scope="row">{a.id}</th>
                  <td class="nowrap">
                    {a.group_id === 0 ? 'offline' : a.group_id} → {a.target_id}
                  </td>
                  <td class="num">{a.index}</td>
                  <td>
                    <Badge kind={a.state === 'pending' ? 'muted' : a.state === 'migrating' ? 'info' : 'warn'}>{a.state}</Badge>
                    {a.running && <span class="small muted"> (running)</span>}
                  </td>
                  <td class="num">{a.keys_left < 0 ? '…' : fmtNum(a.keys_left)}</td>
                  <td class="row-actions">
                    {a.state === 'pending' && (
                      <ActionButton aria-label={`Cancel the action of slot ${a.id}`} onClick={() => run(`Cancel the action of slot ${a.id}`, (api) => api.removeAction(a.id))}>
                        Cancel
                      </ActionButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

