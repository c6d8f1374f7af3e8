/** The page: login, then navigation between the views (hash routes) over one live store. */
import { useEffect, useState } from 'preact/hooks';
import { currentSession, logout, whenSessionLost } from './api';
import { useAgents } from './agents';
import type { ActionSpec } from './actions';
import { html } from './html';
import { LiveStore, type LiveState } from './live';
import { statusClass } from './format';
import type { Access, Rd } from './types';
import { ActionDialog } from './views/action-dialog';
import { ChartsView } from './views/charts';
import { ClusterView } from './views/cluster';
import { HistoryView } from './views/history';
import { LoginForm } from './views/login';
import { LogView } from './views/log';
import { ServerPage } from './views/server';

const store = new LiveStore();
const RESULT_SHOWN_MS = 15_000;

function useRoute(): string {
  const [route, setRoute] = useState(location.hash || '#/');
  useEffect(() => {
    const changed = (): void => setRoute(location.hash || '#/');
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

const NAV = [
  ['#/', 'Cluster'],
  ['#/history', 'History'],
  ['#/log', 'Log'],
  ['#/charts', 'Charts'],
] as const;

export function App() {
  const [access, setAccess] = useState<Access | null | 'unknown'>('unknown');
  const [via, setVia] = useState<string>('session');
  const [notice, setNotice] = useState<string | null>(null);
  const [state, setState] = useState<LiveState>(store.state);
  const [acting, setActing] = useState<{ action: ActionSpec; server: string } | null>(null);
  const [results, setResults] = useState<{ label: string; rd: Rd; at: number }[]>([]);
  const route = useRoute();
  // Only a deployment with etcd has node agents (get_status carries its leadership then).
  const agents = useAgents(access !== null && access !== 'unknown' && state.status?.leadership !== undefined);

  useEffect(() => store.subscribe(setState), []);
  const sessionLost = (): void => {
    store.disconnect();
    setAccess(null);
    setNotice('Your session has ended: log in again.');
  };
  useEffect(() => {
    whenSessionLost(sessionLost);
    void currentSession().then((session) => {
      setAccess(session?.access ?? null);
      if (session) setVia(session.via);
    });
  }, []);
  useEffect(() => {
    if (access === null || access === 'unknown') return;
    // A refused stream: the session ended, or the daemon refused for another reason (then retry the stream).
    const refused = (): void => void currentSession().then((session) => (session === null ? sessionLost() : setTimeout(() => store.connect(refused), 2000)));
    store.connect(refused);
  }, [access]);

  if (access === 'unknown') return html`<main class="loading" aria-busy="true">Loading…</main>`;
  if (access === null) return html`<${LoginForm} notice=${notice} onLoggedIn=${(a: Access) => { setNotice(null); setVia('session'); setAccess(a); }} />`;

  const doLogout = async (): Promise<void> => {
    await logout();
    store.disconnect();
    setAccess(null);
    setNotice('Logged out.');
  };
  const act = (action: ActionSpec, server: string): void => setActing({ action, server });
  // A success fades after a while; a FAIL stays until dismissed.
  const showResult = (label: string, rd: Rd): void => {
    const at = Date.now();
    setResults((all) => [{ label, rd, at }, ...all].slice(0, 10));
    if (rd.result === 'SUCCESS') setTimeout(() => setResults((all) => all.filter((x) => x.at !== at)), RESULT_SHOWN_MS);
  };
  const serverMatch = /^#\/server\/(.+)$/.exec(route);
  const cluster = state.status?.cluster;
  let view;
  if (serverMatch) view = html`<${ServerPage} name=${decodeURIComponent(serverMatch[1] as string)} state=${state} agents=${agents} act=${act} />`;
  else if (route === '#/history') view = html`<${HistoryView} history=${state.history} log=${state.log} />`;
  else if (route === '#/log') view = html`<${LogView} log=${state.log} />`;
  else if (route === '#/charts') view = html`<${ChartsView} series=${state.series} />`;
  else view = html`<${ClusterView} state=${state} agents=${agents} act=${act} />`;

  return html`<div class="app">
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class=${`dot ${statusClass(cluster?.status_no)}`} aria-hidden="true"></span>
      <h1>HandyRep</h1>
      <nav aria-label="Views">${NAV.map(([href, label]) => html`<a href=${href} aria-current=${route === href ? 'page' : undefined}>${label}</a>`)}</nav>
      <span class="who small" data-testid="access">${access === 'admin' ? 'admin' : 'read-only'}${state.connected ? '' : ' · reconnecting…'}</span>
      ${via === 'session' ? html`<button type="button" onClick=${doLogout}>Log out</button>` : null}
    </header>
    <main id="main" tabindex="-1">${view}</main>
    <aside class="results" aria-live="polite" aria-label="Results of actions">
      ${results.slice(0, 3).map((r) => html`<p key=${r.at} class=${`rd ${r.rd.result === 'SUCCESS' ? 'ok' : 'fail'}`}><b>${r.label}: ${r.rd.result}</b> ${r.rd.details}
        <button type="button" class="small" aria-label="Dismiss" onClick=${() => setResults((all) => all.filter((x) => x.at !== r.at))}>×</button></p>`)}
    </aside>
    ${acting ? html`<${ActionDialog} key=${`${acting.action.id}/${acting.server}`} action=${acting.action} server=${acting.server}
      onClose=${() => setActing(null)} onResult=${showResult} />` : null}
  </div>`;
}
