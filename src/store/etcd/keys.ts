/**
 * Where each piece of HandyRep's state lives in etcd (design §9, "Keys"): one pure mapping from
 * names to keys under the cluster's prefix, so no other module builds a key by hand. Names that
 * become part of a key are checked here: a name with "/" could otherwise reach another key
 * (`servers/../leader`), and an empty one would address the whole folder.
 */
import { etcdPrefixProblem, NAME_PATTERN } from '../../config/validators.js';
import { HandyRepError } from '../../model/errors.js';

/** The default prefix of a cluster: `/handyrep/<cluster_name>/`. */
export function defaultEtcdPrefix(clusterName: string): string {
  return `/handyrep/${checkedName('cluster name', clusterName)}/`;
}

export interface EtcdKeys {
  readonly prefix: string;
  /** The leading controller, under its lease; its create revision is the term. */
  readonly leader: string;
  /** The recorded master (written only under the leader's term). */
  readonly master: string;
  /** Cluster status and the saved state's version. */
  readonly cluster: string;
  /** Written once, never deleted, when a node agent bootstrapped the cluster (initdb): no second bootstrap. */
  readonly initialized: string;
  /** The in-flight topology change. */
  readonly journal: string;
  /** The effective configuration, secrets removed. */
  readonly config: string;
  /** Leadership changes, one key per entry (`controller_history/<id>`). */
  readonly controllerHistoryPrefix: string;
  readonly serversPrefix: string;
  readonly historyPrefix: string;
  readonly membersPrefix: string;
  readonly controllersPrefix: string;
  /** Every `master_lease/<node>` (an agents' election needs them all absent). */
  readonly masterLeasePrefix: string;
  masterLease(node: string): string;
  member(node: string): string;
  server(name: string): string;
  history(id: string): string;
  controller(id: string): string;
  controllerHistory(id: string): string;
  commandsOf(node: string): string;
  command(node: string, id: string): string;
  /** The last segment of a key under `folder` (a server name from `servers/<name>`), or null. */
  nameUnder(folder: string, key: string): string | null;
}

/** The key layout under `prefix` (already validated by the config schema; checked again here). */
export function etcdKeys(prefix: string): EtcdKeys {
  const problem = etcdPrefixProblem(prefix);
  if (problem !== null) throw new HandyRepError('INVALID_PARAMETER', `etcd prefix ${JSON.stringify(prefix)} ${problem}`);
  const under = (path: string): string => `${prefix}${path}`;
  const folder = (path: string): string => `${prefix}${path}/`;
  return {
    prefix,
    leader: under('leader'),
    master: under('master'),
    cluster: under('cluster'),
    initialized: under('initialized'),
    journal: under('journal'),
    config: under('config'),
    controllerHistoryPrefix: folder('controller_history'),
    serversPrefix: folder('servers'),
    historyPrefix: folder('history'),
    membersPrefix: folder('members'),
    controllersPrefix: folder('controllers'),
    masterLeasePrefix: folder('master_lease'),
    masterLease: (node) => under(`master_lease/${checkedName('node name', node)}`),
    member: (node) => under(`members/${checkedName('node name', node)}`),
    server: (name) => under(`servers/${checkedName('server name', name)}`),
    history: (id) => under(`history/${checkedName('history id', id)}`),
    controller: (id) => under(`controllers/${checkedName('controller id', id)}`),
    controllerHistory: (id) => under(`controller_history/${checkedName('controller history id', id)}`),
    commandsOf: (node) => folder(`commands/${checkedName('node name', node)}`),
    command: (node, id) => under(`commands/${checkedName('node name', node)}/${checkedName('command id', id)}`),
    nameUnder: (path, key) => {
      if (!key.startsWith(path)) return null;
      const rest = key.slice(path.length);
      return NAME_PATTERN.test(rest) ? rest : null;
    },
  };
}

/** The name itself when it is a valid name (config NAME_PATTERN), else an error naming what it is. */
function checkedName(what: string, name: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new HandyRepError(
      'INVALID_PARAMETER',
      `etcd key: ${what} ${JSON.stringify(name)} is not valid (1-63 letters, digits, "_", "." or "-", starting with a letter or digit)`,
    );
  }
  return name;
}
