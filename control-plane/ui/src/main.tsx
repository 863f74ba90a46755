/**
 * The dashboard shell: navigation by URL hash (#/services, #/services/<name>,
 * #/topology, #/agents, #/config), the live-update connection, and the token
 * form when the API refuses an anonymous read.
 */
import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { type LiveState, listen } from './events.js';
import { LiveContext, type Ticks } from './live.js';
import { AgentsView } from './views/agents-view.js';
import { ConfigView } from './views/config-view.js';
import { LoginView } from './views/login-view.js';
import { ServiceDetailView } from './views/service-detail-view.js';
import { ServicesView } from './views/services-view.js';
import { TopologyView } from './views/topology-view.js';

const NAV = [
  ['#/services', 'Services'],
  ['#/topology', 'Topology'],
  ['#/agents', 'Agents'],
  ['#/config', 'Config'],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/services');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/services');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const service = /^#\/services\/(.+)$/.exec(hash);
  if (service) return <ServiceDetailView name={decodeURIComponent(service[1])} />;
  if (hash.startsWith('#/topology')) return <TopologyView />;
  if (hash.startsWith('#/agents')) return <AgentsView />;
  if (hash.startsWith('#/config')) return <ConfigView />;
  return <ServicesView />;
}

function App() {
  const hash = useHash();
  const [ticks, setTicks] = useState<Ticks>({ services: 0, agents: 0, config: 0, stats: 0 });
  const [liveState, setLiveState] = useState<LiveState>('connecting');
  const [needToken, setNeedToken] = useState(false);
  const [session, setSession] = useState(0);
  const onAuthError = useCallback(() => setNeedToken(true), []);

  useEffect(
    () =>
      listen({
        onTopics: (topics) =>
          setTicks((t) => {
            const next = { ...t };
            for (const topic of topics) next[topic]++;
            return next;
          }),
        onState: (s) => {
          setLiveState(s);
          if (s === 'unauthorized') setNeedToken(true);
        },
      }),
    [session],
  );

  if (needToken)
    return (
      <LoginView
        onDone={() => {
          setNeedToken(false);
          setSession((n) => n + 1);
        }}
      />
    );
  const section = hash.split('/')[1] ?? 'services';
  return (
    <LiveContext.Provider value={{ ticks, onAuthError }}>
      <header class="top">
        <span class="brand">Weft</span>
        <nav>
          {NAV.map(([href, label]) => (
            <a key={href} href={href} class={href === `#/${section}` ? 'active' : ''} data-nav={label.toLowerCase()}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`live live-${liveState}`} data-live={liveState} title="live updates from /v1/events">
          {liveState}
        </span>
      </header>
      <main key={session}>
        <Page hash={hash} />
      </main>
    </LiveContext.Provider>
  );
}

const root = document.getElementById('app')!;
// The "loading" text in index.html is for the moments before this script runs; preact would keep it beside the app.
root.textContent = '';
render(<App />, root);
