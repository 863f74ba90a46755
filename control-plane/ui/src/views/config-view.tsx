/**
 * Traffic policy as stored now (routes, service policies, access policies,
 * external services), and its history: each revision with the line diff of
 * every document it changed.
 */
import { useState } from 'preact/hooks';
import { lineDiff, pretty } from '../diff.js';
import { useResource } from '../live.js';
import type { ConfigChange, ConfigResponse, HistoryResponse } from '../types.js';
import { Loading } from './common.js';

function Diff({ change }: { change: ConfigChange }) {
  const lines = lineDiff(pretty(change.before), pretty(change.after));
  return (
    <div class="change" data-change={`${change.kind}/${change.service}`}>
      <h4>
        {change.action} {change.kind} <code>{change.service}</code>
      </h4>
      <pre class="diff" data-diff>
        {lines.map((l, i) => (
          <div
            key={i}
            class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same'}
            data-op={l.op === ' ' ? 'same' : l.op === '+' ? 'add' : 'del'}
          >
            {l.op} {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

function History() {
  const history = useResource<HistoryResponse>('/v1/config/history?limit=50', ['config']);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Loading r={history}>
      {(data) =>
        data.revisions.length === 0 ? (
          <p class="muted">No config has been applied yet.</p>
        ) : (
          <ol class="history" data-history>
            {data.revisions.map((r) => (
              <li key={r.revision} data-revision={r.revision}>
                <button type="button" class="link" onClick={() => setOpen(open === r.revision ? null : r.revision)}>
                  revision {r.revision}
                </button>{' '}
                <span class="muted">
                  {r.appliedAt} · {r.description} · {r.changes.filter((c) => c.action !== 'unchanged').length} changed
                </span>
                {open === r.revision &&
                  r.changes.filter((c) => c.action !== 'unchanged').map((c) => <Diff key={`${c.kind}/${c.service}`} change={c} />)}
              </li>
            ))}
          </ol>
        )
      }
    </Loading>
  );
}

export function ConfigView() {
  const config = useResource<ConfigResponse>('/v1/config', ['config']);
  return (
    <section data-view="config">
      <h1>Config</h1>
      <h2>Current</h2>
      <Loading r={config}>
        {(data) =>
          data.documents.length === 0 ? (
            <p class="muted">No routes, policies or external services are applied (weft apply -f FILE).</p>
          ) : (
            <div class="documents">
              {data.documents.map((d) => (
                <details key={`${d.kind}/${d.service}`} data-document={`${d.kind}/${d.service}`}>
                  <summary>
                    {d.kind} <code>{d.service}</code> <span class="muted">revision {d.revision}</span>
                  </summary>
                  <pre>{pretty(d.document)}</pre>
                </details>
              ))}
            </div>
          )
        }
      </Loading>
      <h2>History</h2>
      <History />
    </section>
  );
}
