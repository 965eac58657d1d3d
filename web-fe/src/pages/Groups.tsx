// Groups: servers with role, memory, keys, replication state; create group,
// add/remove server, promote a replica, resync, replica-read toggle.
import { useState } from 'preact/hooks';
import type { Group, Overview } from '../api';
import { fmtBytes, fmtNum, num, replication, serverHealth, serverKeys } from '../format';
import { confirm, confirmed, notify, run } from '../store';
import { ActionButton, Badge, Card, HealthBadge, intValue } from '../ui';

export function GroupsPage({ ov }: { ov: Overview }) {
  const s = ov.stats;
  const groups = [...s.group.models].sort((a, b) => a.id - b.id);
  const nextId = groups.reduce((m, g) => Math.max(m, g.id), 0) + 1;
  const [gid, setGid] = useState('');
  const allReplicaRead = groups.length > 0 && groups.every((g) => g.servers.every((x) => x.replica_group));

  const create = async (e: Event) => {
    e.preventDefault();
    const id = intValue(gid || String(nextId));
    if (!Number.isInteger(id)) {
      notify('error', `invalid group id "${gid}" (expected an integer 1-9999)`, 'Create group');
      return;
    }
    const r = await run(`Create group ${id}`, (api) => api.createGroup(id));
    if (r.ok) setGid('');
  };

  return (
    <div class="page page-groups">
      <Card
        title="Groups"
        actions={
          <>
            <ActionButton
              onClick={async () => {
                if (await confirmed({ title: 'Resync all groups', body: 'Set REPLICAOF on every server per its group and push every slot to every proxy again?', confirmLabel: 'Resync all', danger: false }))
                  await run('Resync all groups', (api) => api.resyncGroupAll());
              }}
            >
              Resync all
            </ActionButton>
            <ActionButton
              onClick={async () => {
                const on = !allReplicaRead;
                if (await confirmed({ title: on ? 'Enable replica reads everywhere' : 'Disable replica reads everywhere', body: on ? 'Proxies will send read-only commands to replicas of every group (reads may see slightly stale data).' : 'Proxies will send every command to the masters only.', confirmLabel: on ? 'Enable' : 'Disable', danger: false }))
                  await run(`Replica reads ${on ? 'on' : 'off'} for all groups`, (api) => api.replicaGroupsAll(on));
              }}
            >
              {allReplicaRead ? 'Replica reads off (all)' : 'Replica reads on (all)'}
            </ActionButton>
          </>
        }
      >
        <form class="inline-form" onSubmit={create} id="create-group-form">
          <label>
            New group ID
            <input
              name="gid"
              type="number"
              min={1}
              max={9999}
              value={gid}
              placeholder={String(nextId)}
              onInput={(e) => setGid(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="btn-primary">
            Create group
          </button>
        </form>
      </Card>
      {groups.length === 0 && <p class="muted">No group yet.</p>}
      {groups.map((g) => (
        <GroupCard key={g.id} g={g} ov={ov} />
      ))}
    </div>
  );
}

function GroupCard({ g, ov }: { g: Group; ov: Overview }) {
  const s = ov.stats;
  const [addr, setAddr] = useState('');
  const [dc, setDc] = useState('');
  const slots = s.slots.filter((m) => m.group_id === g.id).length;
  const addId = `add-server-${g.id}`;

  const add = async (e: Event) => {
    e.preventDefault();
    const a = addr.trim();
    if (!a) return;
    const r = await run(`Add server ${a} to group ${g.id}`, (api) => api.addServer(g.id, a, dc.trim()));
    if (r.ok) {
      setAddr('');
      setDc('');
    }
  };

  return (
    <section class="card group-card" data-group={g.id} aria-labelledby={`group-${g.id}-title`}>
      <header class="card-head">
        <h2 id={`group-${g.id}-title`}>
          Group {g.id}{' '}
          <span class="small muted">
            {slots} slot{slots === 1 ? '' : 's'}, {g.servers.length} server{g.servers.length === 1 ? '' : 's'}
          </span>{' '}
          {g.out_of_sync && <Badge kind="warn">out of sync</Badge>}
          {g.promoting?.state && <Badge kind="warn">promoting: {g.promoting.state}</Badge>}
        </h2>
        <div class="card-actions">
          <ActionButton aria-label={`Resync group ${g.id}`} onClick={() => run(`Resync group ${g.id}`, (api) => api.resyncGroup(g.id))}>
            Resync
          </ActionButton>
          <ActionButton
            class="btn-danger"
            aria-label={`Remove group ${g.id}`}
            onClick={async () => {
              if (await confirmed({ title: `Remove group ${g.id}`, body: `Remove group ${g.id}? Only an empty group that owns no slot can be removed.`, confirmLabel: 'Remove group' }))
                await run(`Remove group ${g.id}`, (api) => api.removeGroup(g.id));
            }}
          >
            Remove group
          </ActionButton>
        </div>
      </header>
      <div class="card-body">
        {g.servers.length === 0 ? (
          <p class="muted">No server: add the master first (a redis-server with codis_slots.so loaded).</p>
        ) : (
          <div class="table-wrap">
            <table class="table servers-table">
              <thead>
                <tr>
                  <th scope="col">Server</th>
                  <th scope="col">DC</th>
                  <th scope="col">Role</th>
                  <th scope="col">Health</th>
                  <th scope="col" class="num">Memory</th>
                  <th scope="col" class="num">Keys</th>
                  <th scope="col">Replication</th>
                  <th scope="col">Sync action</th>
                  <th scope="col">Replica reads</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {g.servers.map((x, i) => {
                  const st = s.group.stats[x.server];
                  const info = st?.stats;
                  const h = serverHealth(st);
                  const rep = replication(g, i, s);
                  const mem = num(info, 'used_memory');
                  const maxmem = num(info, 'maxmemory');
                  return (
                    <tr key={x.server} data-server={x.server} data-role={i === 0 ? 'master' : 'replica'} data-health={h.health}>
                      <td class="mono">
                        <details class="info">
                          <summary>{x.server}</summary>
                          <ServerInfo info={info} />
                        </details>
                      </td>
                      <td>{x.datacenter || '–'}</td>
                      <td>
                        {i === 0 ? <Badge kind="info">master</Badge> : <Badge kind="muted">replica</Badge>}
                      </td>
                      <td>
                        <HealthBadge health={h.health} why={h.why} />
                      </td>
                      <td class="num">
                        {fmtBytes(mem)}
                        {maxmem ? <span class="small muted"> / {fmtBytes(maxmem)}</span> : null}
                      </td>
                      <td class="num">{fmtNum(serverKeys(info))}</td>
                      <td>
                        <span class={rep.ok ? '' : 'text-bad'}>{rep.text}</span>
                      </td>
                      <td>
                        {x.action?.state ? (
                          <Badge kind={x.action.state === 'synced' ? 'ok' : x.action.state === 'synced_failed' ? 'bad' : 'warn'}>{x.action.state}</Badge>
                        ) : (
                          <span class="muted">–</span>
                        )}
                      </td>
                      <td>
                        <label class="switch">
                          <input
                            type="checkbox"
                            role="switch"
                            checked={x.replica_group}
                            aria-label={`Replica reads from ${x.server}`}
                            onChange={async (e) => {
                              const on = e.currentTarget.checked;
                              e.currentTarget.checked = x.replica_group; // the poll shows the stored value
                              await run(`Replica reads ${on ? 'on' : 'off'} for ${x.server}`, (api) => api.replicaGroups(g.id, x.server, on));
                            }}
                          />
                          <span>{x.replica_group ? 'on' : 'off'}</span>
                        </label>
                      </td>
                      <td class="row-actions">
                        {i > 0 && (
                          <ActionButton
                            aria-label={`Promote ${x.server} to master of group ${g.id}`}
                            onClick={async () => {
                              if (await confirmed({ title: 'Promote replica', body: `Make ${x.server} the master of group ${g.id}? The old master ${g.servers[0].server} and the other servers will follow it.`, confirmLabel: 'Promote' }))
                                await run(`Promote ${x.server}`, (api) => api.promoteServer(g.id, x.server));
                            }}
                          >
                            Promote
                          </ActionButton>
                        )}
                        {x.action?.state ? (
                          <ActionButton aria-label={`Clear the sync action of ${x.server}`} onClick={() => run(`Clear sync action of ${x.server}`, (api) => api.syncRemove(x.server))}>
                            Clear sync
                          </ActionButton>
                        ) : (
                          <ActionButton
                            aria-label={`Sync ${x.server}`}
                            title="Queue a sync action: REPLICAOF per the group's server list"
                            onClick={() => run(`Sync ${x.server}`, (api) => api.syncCreate(x.server))}
                          >
                            Sync
                          </ActionButton>
                        )}
                        <ActionButton
                          class="btn-danger"
                          aria-label={`Remove server ${x.server} from group ${g.id}`}
                          onClick={async () => {
                            const r = await confirm({ title: 'Remove server', body: `Remove ${x.server} from group ${g.id}?${i === 0 && g.servers.length > 1 ? ' It is the master: promote a replica first.' : ''}`, confirmLabel: 'Remove server' });
                            if (r.ok) await run(`Remove server ${x.server}`, (api) => api.delServer(g.id, x.server));
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
        <form class="inline-form" onSubmit={add} aria-label={`Add a server to group ${g.id}`}>
          <label for={addId}>Server address</label>
          <input
            id={addId}
            name="addr"
            value={addr}
            onInput={(e) => setAddr(e.currentTarget.value)}
            placeholder="127.0.0.1:6379"
            required
            autoComplete="off"
            spellcheck={false}
          />
          <label for={`${addId}-dc`}>Datacenter</label>
          <input id={`${addId}-dc`} name="datacenter" class="short" value={dc} onInput={(e) => setDc(e.currentTarget.value)} placeholder="optional" />
          <button type="submit">Add server</button>
        </form>
      </div>
    </section>
  );
}

const infoKeys = [
  'redis_version',
  'role',
  'master_host',
  'master_port',
  'master_link_status',
  'connected_slaves',
  'used_memory_human',
  'maxmemory',
  'connected_clients',
  'instantaneous_ops_per_sec',
  'uptime_in_seconds',
  'aof_enabled',
  'rdb_last_bgsave_status',
];

function ServerInfo({ info }: { info: Record<string, string> | undefined }) {
  if (!info) return <p class="muted small">No INFO.</p>;
  const dbs = Object.keys(info).filter((k) => /^db\d+$/.test(k));
  return (
    <dl class="kv small">
      {[...infoKeys, ...dbs]
        .filter((k) => info[k] !== undefined)
        .map((k) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{info[k]}</dd>
          </div>
        ))}
    </dl>
  );
}
