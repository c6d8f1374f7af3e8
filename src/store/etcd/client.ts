/**
 * The one place an etcd client is made from the configuration: endpoints, TLS files, user and
 * password, and the call deadline. Every other etcd module receives the client (and the key layout)
 * made here.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import type { HandyRepConfig } from '../../config/schema.js';
import { HandyRepError } from '../../model/errors.js';
import { etcdFaultHandling } from './fault-handling.js';
import { defaultEtcdPrefix, etcdKeys, type EtcdKeys } from './keys.js';
import { LeanEtcd } from './lean/client.js';
import { LeanKeepalive } from './lean/keepalive.js';
import type { LeanParts } from './lean/kv.js';

/** What the etcd modules need: the client, the key layout and the timing settings. */
export interface EtcdContext {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  /** Lease TTL of the leader key, seconds (etcd.ttl). */
  readonly ttlSeconds: number;
  /** Deadline of every unary call, milliseconds (etcd.retry_timeout). */
  readonly deadlineMs: number;
  /**
   * One client per member (made on first use), for lease renewals: they must reach a member that
   * answers within a fraction of the TTL, so they go to one member at a time and move on to the
   * next when it fails, instead of a random member each time.
   */
  memberClient(index: number): Etcd3;
  readonly memberCount: number;
  /**
   * The agent's hot path (lease keep-alives, the member record's transaction) over a small
   * hand-framed HTTP/2 gRPC client (lean/client.ts), made on first use from the same settings; absent in
   * contexts made by tests, whose callers then use `client`.
   */
  readonly lean?: LeanParts;
  /** Closes the clients (their streams and connections). */
  close(): void;
}

/** Attempts per unary call (each on another member when there are several). */
const CALL_ATTEMPTS = 3;

export type EtcdSettings = Pick<HandyRepConfig, 'etcd' | 'passwords'> & { handyrep: Pick<HandyRepConfig['handyrep'], 'cluster_name'> };

/** The client options for a validated configuration (TLS files read here; a missing one is an error naming it). */
export function etcdClientOptions(config: EtcdSettings, readFile: (path: string) => Buffer = readFileSync): IOptions {
  const { etcd } = config;
  if (etcd.endpoints.length === 0) throw new HandyRepError('CONFIG_INVALID', 'etcd.endpoints: list the etcd endpoints (e.g. [http://10.0.0.1:2379])');
  const deadlineMs = Math.round(etcd.retry_timeout * 1000);
  const read = (setting: 'ca' | 'cert' | 'key', path: string): Buffer => {
    try {
      return readFile(path);
    } catch (err) {
      throw new HandyRepError('CONFIG_INVALID', `etcd.${setting}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  // Each attempt gets a third of the deadline and the next attempt goes to another member, so one
  // frozen or cut-off member (TCP accepted, no answer) costs a third of the budget, not all of it.
  const attemptMs = Math.max(100, Math.floor(deadlineMs / CALL_ATTEMPTS));
  const options: IOptions = {
    hosts: [...etcd.endpoints],
    dialTimeout: attemptMs,
    // Unary calls get the deadline; streams (watches, keep-alives) live on and are watched by their owners.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + attemptMs }),
    // Only transport failures count (fault-handling.ts): a member that failed three times in a row
    // is skipped for a second, not etcd3's default five (leadership must be possible again within
    // the lease TTL after a quorum loss heals).
    faultHandling: etcdFaultHandling({ attempts: CALL_ATTEMPTS, breakAfter: 3, halfOpenAfterMs: 1000 }),
  };
  if (etcd.ca !== null) {
    options.credentials = {
      rootCertificate: read('ca', etcd.ca),
      ...(etcd.cert !== null && etcd.key !== null ? { certChain: read('cert', etcd.cert), privateKey: read('key', etcd.key) } : {}),
    };
  }
  if (etcd.user !== null) {
    const password = config.passwords['etcd_password'] ?? '';
    if (password === '') throw new HandyRepError('CONFIG_INVALID', `passwords.etcd_password: etcd.user is ${etcd.user}: give its password`);
    options.auth = { username: etcd.user, password };
  }
  return options;
}

/** A connected-on-demand client, the key layout of this cluster and its timing. */
export function createEtcdContext(config: EtcdSettings): EtcdContext {
  const options = etcdClientOptions(config);
  const client = new Etcd3(options);
  const endpoints = config.etcd.endpoints;
  const members = new Map<number, Etcd3>();
  let lean: LeanParts | null = null;
  let closed = false;
  return {
    client,
    keys: etcdKeys(config.etcd.prefix ?? defaultEtcdPrefix(config.handyrep.cluster_name)),
    ttlSeconds: config.etcd.ttl,
    deadlineMs: Math.round(config.etcd.retry_timeout * 1000),
    memberCount: endpoints.length,
    memberClient: (index) => {
      const i = ((index % endpoints.length) + endpoints.length) % endpoints.length;
      let member = members.get(i);
      if (!member) {
        member = new Etcd3({ ...options, hosts: [endpoints[i] as string] });
        members.set(i, member);
      }
      return member;
    },
    get lean(): LeanParts {
      if (lean === null) {
        const etcd = new LeanEtcd({
          endpoints,
          tls: options.credentials ? { ca: options.credentials.rootCertificate ?? null, cert: options.credentials.certChain ?? null, key: options.credentials.privateKey ?? null } : null,
          auth: options.auth ? { user: options.auth.username, password: options.auth.password } : null,
        });
        lean = { etcd, keepalive: new LeanKeepalive(etcd) };
        // Asked for after close(): its calls fail at once instead of opening a session nothing closes.
        if (closed) etcd.close();
      }
      return lean;
    },
    close: () => {
      closed = true;
      lean?.keepalive.close();
      lean?.etcd.close();
      client.close();
      for (const member of members.values()) member.close();
    },
  };
}
