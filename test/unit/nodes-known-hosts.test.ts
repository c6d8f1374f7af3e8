/** known_hosts parsing, verdicts and recording, cross-checked with OpenSSH's own ssh-keygen. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  checkHostKey,
  entryMatchesHost,
  formatKnownHostsLine,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
  recordHostKey,
} from '../../src/nodes/known-hosts.js';
import { preferredHostKeyAlgorithms } from '../../src/nodes/ssh-connect.js';

const run = promisify(execFile);

/** A syntactically valid SSH key blob of the given type. */
function blob(type: string, body = randomBytes(32)): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  const bodyLength = Buffer.alloc(4);
  bodyLength.writeUInt32BE(body.length);
  return Buffer.concat([length, name, bodyLength, body]);
}

const ED_A = blob('ssh-ed25519').toString('base64');
const ED_B = blob('ssh-ed25519').toString('base64');
const ECDSA = blob('ecdsa-sha2-nistp256').toString('base64');

describe('known_hosts names', () => {
  it('uses the bare host for port 22 and [host]:port otherwise', () => {
    assert.equal(knownHostsName('Node1.Example', 22), 'node1.example');
    assert.equal(knownHostsName('127.0.2.11', 2222), '[127.0.2.11]:2222');
    assert.equal(formatKnownHostsLine('127.0.2.11', 2222, 'ssh-ed25519', ED_A), `[127.0.2.11]:2222 ssh-ed25519 ${ED_A}\n`);
  });

  it('reads the key type out of a key blob', () => {
    assert.equal(keyTypeOfBlob(Buffer.from(ED_A, 'base64')), 'ssh-ed25519');
    assert.equal(keyTypeOfBlob(Buffer.alloc(2)), '');
  });
});

describe('parseKnownHosts', () => {
  it('parses plain, commented, marked and malformed lines', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        '',
        `node1,10.0.0.1 ssh-ed25519 ${ED_A} root@node1`,
        `@revoked * ssh-ed25519 ${ED_B}`,
        `@cert-authority *.example ssh-ed25519 ${ED_A}`,
        '@unknown-marker x ssh-ed25519 AAAA',
        'only-two fields',
        `  [node2]:2222   ecdsa-sha2-nistp256 ${ECDSA}  `,
      ].join('\n'),
    );
    assert.deepEqual(
      entries.map((e) => [e.marker, e.patterns, e.keyType]),
      [
        ['none', ['node1', '10.0.0.1'], 'ssh-ed25519'],
        ['revoked', ['*'], 'ssh-ed25519'],
        ['cert-authority', ['*.example'], 'ssh-ed25519'],
        ['none', ['[node2]:2222'], 'ecdsa-sha2-nistp256'],
      ],
    );
  });

  it('matches wildcards, negations and hashed names like OpenSSH', () => {
    const [wild] = parseKnownHosts(`*.example,!bad.example ssh-ed25519 ${ED_A}`);
    assert.ok(wild);
    assert.equal(entryMatchesHost(wild, 'good.example'), true);
    assert.equal(entryMatchesHost(wild, 'bad.example'), false);
    assert.equal(entryMatchesHost(wild, 'example'), false);
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[10.1.1.1]:2222').digest('base64');
    const [hashed] = parseKnownHosts(`|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${ED_A}`);
    assert.ok(hashed);
    assert.equal(entryMatchesHost(hashed, '[10.1.1.1]:2222'), true);
    assert.equal(entryMatchesHost(hashed, '10.1.1.1'), false);
  });
});

describe('checkHostKey', () => {
  const entries = parseKnownHosts(
    [`[h]:2222 ssh-ed25519 ${ED_A}`, `other ecdsa-sha2-nistp256 ${ECDSA}`, `@revoked * ssh-ed25519 ${ED_B}`].join('\n'),
  );

  it('accepts the recorded key', () => {
    assert.equal(checkHostKey(entries, 'h', 2222, 'ssh-ed25519', ED_A), 'match');
  });
  it('reports a different key of the same type as a mismatch', () => {
    const other = blob('ssh-ed25519').toString('base64');
    assert.equal(checkHostKey(entries, 'h', 2222, 'ssh-ed25519', other), 'mismatch');
  });
  it('reports a host under another port as unknown', () => {
    assert.equal(checkHostKey(entries, 'h', 22, 'ssh-ed25519', ED_A), 'unknown');
  });
  it('reports a host known only by another key type as unknown for this type', () => {
    assert.equal(checkHostKey(entries, 'other', 22, 'ssh-ed25519', ED_A), 'unknown');
    assert.deepEqual(knownKeyTypes(entries, 'other', 22), ['ecdsa-sha2-nistp256']);
  });
  it('refuses a revoked key whatever the host', () => {
    assert.equal(checkHostKey(entries, 'h', 2222, 'ssh-ed25519', ED_B), 'revoked');
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('puts the recorded types first and keeps the rest of the defaults', () => {
    const list = preferredHostKeyAlgorithms(['ssh-rsa']);
    assert.deepEqual(list.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.ok(list.includes('ssh-ed25519'));
    assert.equal(new Set(list).size, list.length);
    assert.equal(preferredHostKeyAlgorithms(['ecdsa-sha2-nistp256'])[0], 'ecdsa-sha2-nistp256');
    assert.equal(preferredHostKeyAlgorithms(['no-such-type'])[0], 'ssh-ed25519');
  });
});

describe('recordHostKey', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'handyrep-kh-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file (and folder), appends once, and terminates a last line without newline', async () => {
    const path = join(dir, 'sub', 'known_hosts');
    assert.deepEqual(await readKnownHosts(path), []);
    await Promise.all([
      recordHostKey(path, '127.0.2.11', 2222, 'ssh-ed25519', ED_A),
      recordHostKey(path, '127.0.2.11', 2222, 'ssh-ed25519', ED_A),
      recordHostKey(path, '127.0.2.12', 22, 'ssh-ed25519', ED_B),
    ]);
    assert.equal(
      await readFile(path, 'utf8'),
      `[127.0.2.11]:2222 ssh-ed25519 ${ED_A}\n127.0.2.12 ssh-ed25519 ${ED_B}\n`,
    );
    const unterminated = join(dir, 'unterminated');
    await writeFile(unterminated, `x ssh-ed25519 ${ED_B}`);
    await recordHostKey(unterminated, 'y', 22, 'ssh-ed25519', ED_A);
    assert.equal(await readFile(unterminated, 'utf8'), `x ssh-ed25519 ${ED_B}\ny ssh-ed25519 ${ED_A}\n`);
  });

  it('writes lines OpenSSH finds, and reads the file back after ssh-keygen hashed it', async () => {
    const path = join(dir, 'kh-openssh');
    const keyDir = await mkdtemp(join(dir, 'key-'));
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'k')]);
    const [type, base64] = (await readFile(join(keyDir, 'k.pub'), 'utf8')).split(' ');
    assert.ok(type && base64);
    await recordHostKey(path, '127.0.2.11', 2222, type, base64);
    const found = await run('ssh-keygen', ['-F', '[127.0.2.11]:2222', '-f', path]);
    assert.match(found.stdout, /ssh-ed25519/);
    await run('ssh-keygen', ['-H', '-f', path]);
    const hashed = await readKnownHosts(path);
    assert.ok(hashed[0]?.patterns[0]?.startsWith('|1|'));
    assert.equal(checkHostKey(hashed, '127.0.2.11', 2222, type, base64), 'match');
    assert.equal(checkHostKey(hashed, '127.0.2.11', 22, type, base64), 'unknown');
  });
});
