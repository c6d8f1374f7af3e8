/**
 * The one place an etcd client is made from the configuration: endpoints, TLS files, user and
 * password, and the call deadline. Every other etcd module receives the client (and the key layout)
 * made here.
 */
import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, handleAll, retry, ExponentialBackoff } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import type { HandyRepConfig } from '../../config/schema.js';
import { HandyRepError } from '../../model/errors.js';
import { defaultEtcdPrefix, etcdKeys, type EtcdKeys } from './keys.js';

/** What the etcd modules need: the client, the key layout and the timing settings. */
export interface EtcdContext {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  /** Lease TTL of the leader key, seconds (etcd.ttl). */
  readonly ttlSeconds: number;
  /** Deadline of every unary call, milliseconds (etcd.retry_timeout). */
  readonly deadlineMs: number;
  /** Closes the client (its streams and connections). */
  close(): void;
}

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
  const options: IOptions = {
    hosts: [...etcd.endpoints],
    dialTimeout: deadlineMs,
    // Unary calls get the deadline; streams (watches, keep-alives) live on and are watched by their owners.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + deadlineMs }),
    faultHandling: {
      // A member that failed is skipped for a second, not the default five: after a quorum loss
      // heals, leadership must be possible again within the lease TTL.
      host: () => circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 200 }) }),
    },
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
  const client = new Etcd3(etcdClientOptions(config));
  return {
    client,
    keys: etcdKeys(config.etcd.prefix ?? defaultEtcdPrefix(config.handyrep.cluster_name)),
    ttlSeconds: config.etcd.ttl,
    deadlineMs: Math.round(config.etcd.retry_timeout * 1000),
    close: () => client.close(),
  };
}
