/**
 * Opens one authenticated ssh2 connection: key authentication only, host key checked against an
 * OpenSSH known_hosts file, every failure turned into an `SshConnectError` saying why.
 */
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import type { Client, ServerHostKeyAlgorithm, VerifyCallback } from 'ssh2';
import { describeError } from '../model/errors.js';
import {
  checkHostKey,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  readKnownHosts,
  recordHostKey,
  type HostKeyChecking,
  type KnownHostEntry,
} from './known-hosts.js';
import { classifySshError, describeSshFailure, SshConnectError, type SshFailureKind } from './ssh-errors.js';

/** Where and how to connect. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  privateKeyPath: string;
  connectTimeoutMs: number;
  hostKeyChecking: HostKeyChecking;
  knownHostsPath: string;
}

/** Host key algorithms ssh2 offers by default, in its order. */
const DEFAULT_HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/** Keepalives let an idle pooled connection to a lost host fail instead of hanging the next command. */
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;
/** Backstop over ssh2's own readyTimeout, should a handshake stall somewhere it does not watch. */
const CONNECT_BACKSTOP_MS = 500;

/** `ssh user@host:port`, the description of a target in messages. */
export function sshDescription(target: Pick<SshTarget, 'user' | 'host' | 'port'>): string {
  return `ssh ${target.user}@${target.host}:${target.port}`;
}

/**
 * Host key algorithms with the types already recorded for this host first, as OpenSSH does, so a
 * host known by (say) its ECDSA key is not reported as unknown because ed25519 was negotiated.
 */
export function preferredHostKeyAlgorithms(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const preferred: ServerHostKeyAlgorithm[] = [];
  for (const type of knownTypes) {
    if (type === 'ssh-rsa') preferred.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else {
      const algorithm = DEFAULT_HOST_KEY_ALGORITHMS.find((a) => a === type);
      if (algorithm) preferred.push(algorithm);
    }
  }
  return [...new Set([...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}

/** Opens and authenticates a connection; rejects with `SshConnectError` (code CONTROL_CHANNEL). */
export async function openSshConnection(target: SshTarget): Promise<Client> {
  const description = sshDescription(target);
  const fail = (kind: SshFailureKind, err: unknown): SshConnectError =>
    new SshConnectError(kind, `${description}: ${describeSshFailure(kind, err, target.connectTimeoutMs)}`, { cause: err });

  let privateKey: Buffer;
  try {
    privateKey = await readFile(target.privateKeyPath);
  } catch (err) {
    throw fail('auth', new Error(`cannot read private key ${target.privateKeyPath}: ${describeError(err)}`));
  }
  let entries: KnownHostEntry[] = [];
  if (target.hostKeyChecking !== 'off') {
    try {
      entries = await readKnownHosts(target.knownHostsPath);
    } catch (err) {
      throw fail('host-key', new Error(`cannot read known_hosts ${target.knownHostsPath}: ${describeError(err)}`));
    }
  }

  return new Promise<Client>((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyProblem: string | undefined;
    let settled = false;
    const settle = (err: SshConnectError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(backstop);
      if (err === undefined) {
        resolve(client);
        return;
      }
      client.destroy();
      reject(err);
    };
    const backstop = setTimeout(
      () => settle(fail('timeout', new Error('handshake did not complete'))),
      target.connectTimeoutMs + CONNECT_BACKSTOP_MS,
    );

    const hostVerifier = (key: Buffer, verify: VerifyCallback): void => {
      if (target.hostKeyChecking === 'off') {
        verify(true);
        return;
      }
      const keyType = keyTypeOfBlob(key);
      const keyBase64 = key.toString('base64');
      const name = knownHostsName(target.host, target.port);
      const where = `known_hosts ${target.knownHostsPath}`;
      const verdict = checkHostKey(entries, target.host, target.port, keyType, keyBase64);
      if (verdict === 'match') {
        verify(true);
      } else if (verdict === 'unknown' && target.hostKeyChecking === 'accept-new') {
        recordHostKey(target.knownHostsPath, target.host, target.port, keyType, keyBase64).then(
          () => verify(true),
          (err: unknown) => {
            hostKeyProblem = `cannot record the host key for ${name} in ${where}: ${describeError(err)}`;
            verify(false);
          },
        );
      } else {
        hostKeyProblem =
          verdict === 'unknown'
            ? `host key for ${name} (${keyType}) is not in ${where} and ssh_host_key_checking is strict`
            : verdict === 'revoked'
              ? `host key for ${name} (${keyType}) is marked @revoked in ${where}`
              : `host key for ${name} does not match ${where} (the ${keyType} key changed; remove the old line if the change is expected)`;
        verify(false);
      }
    };

    // Without TCP_NODELAY the handshake's and every command's small packets sit behind Nagle and
    // the server's delayed ACK: ~95 ms per command instead of ~10 (measured on loopback).
    client.once('connect', () => client.setNoDelay(true));
    client.once('ready', () => settle(undefined));
    // Stays attached for the connection's lifetime: an unhandled 'error' would crash the process.
    client.on('error', (err: Error) => {
      if (hostKeyProblem !== undefined) settle(fail('host-key', new Error(hostKeyProblem)));
      else settle(fail(classifySshError(err), err));
    });
    client.once('close', () => {
      if (hostKeyProblem !== undefined) settle(fail('host-key', new Error(hostKeyProblem)));
      else settle(fail('other', new Error('connection closed during the handshake')));
    });

    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey,
        authHandler: ['publickey'],
        hostVerifier,
        algorithms: {
          serverHostKey: preferredHostKeyAlgorithms(knownKeyTypes(entries, target.host, target.port)),
        },
        readyTimeout: target.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_INTERVAL_MS,
        keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      });
    } catch (err) {
      // ssh2 throws synchronously for a key it cannot parse (or one needing a passphrase).
      settle(fail('auth', new Error(`cannot use private key ${target.privateKeyPath}: ${describeError(err)}`)));
    }
  });
}
