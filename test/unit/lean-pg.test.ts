/**
 * The lean PostgreSQL session's pure parts: the protocol's messages (encoded as the protocol
 * documentation lays them out), SCRAM-SHA-256 against RFC 7677's example exchange, and the
 * text values of a row read by type.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkServerFinal, MAX_SCRAM_ITERATIONS, parseServerFirst, scramClientFinal, scramClientFirst } from '../../src/nodes/lean-pg/scram.js';
import { boolValue, floatValue, intValue, textValue } from '../../src/nodes/lean-pg/text-values.js';
import { BackendMessageReader, parseAuthRequest, parseDataRow, parseErrorFields, parseRowDescription, queryMessage, saslInitialMessage, startupMessage, terminateMessage } from '../../src/nodes/lean-pg/wire.js';
import { backend, int16, int32 } from '../fixtures/pg-backend-messages.js';

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

describe('lean-pg: frontend messages', () => {
  it('startup: length, protocol 3.0, name/value pairs, a final zero', () => {
    const m = startupMessage({ user: 'u', database: 'd' });
    assert.deepEqual(m, Buffer.concat([int32(m.length), int32(196608), cstr('user'), cstr('u'), cstr('database'), cstr('d'), Buffer.from([0])]));
  });
  it('query: Q, length, the statement with its terminator', () => {
    assert.deepEqual(queryMessage('SELECT 1'), Buffer.concat([Buffer.from('Q'), int32(4 + 9), cstr('SELECT 1')]));
  });
  it('SASL initial response: mechanism, then the data with its own length', () => {
    const m = saslInitialMessage('SCRAM-SHA-256', 'n,,n=*,r=abc');
    assert.deepEqual(m, Buffer.concat([Buffer.from('p'), int32(m.length - 1), cstr('SCRAM-SHA-256'), int32(12), Buffer.from('n,,n=*,r=abc')]));
  });
  it('terminate: X with an empty body', () => assert.deepEqual(terminateMessage(), Buffer.from([0x58, 0, 0, 0, 4])));
});

describe('lean-pg: backend messages', () => {
  it('a reader cuts messages across and within chunks', () => {
    const all = Buffer.concat([backend('R', int32(0)), backend('Z', Buffer.from('I')), backend('C', cstr('SELECT 1'))]);
    const reader = new BackendMessageReader();
    const got = [...reader.push(all.subarray(0, 3)), ...reader.push(all.subarray(3, 12)), ...reader.push(all.subarray(12))];
    assert.deepEqual(got.map((m) => [m.type, m.body.toString('latin1')]), [['R', '\0\0\0\0'], ['Z', 'I'], ['C', 'SELECT 1\0']]);
  });
  it('a length no server sends is refused (not waited for)', () => {
    assert.throws(() => new BackendMessageReader().push(backend('D', Buffer.alloc(0)).fill(0x7f, 1, 5)), /a message of \d+ bytes/);
    assert.throws(() => new BackendMessageReader().push(Buffer.from([0x44, 0, 0, 0, 2])), /a message of 2 bytes/);
  });
  const auth: ReadonlyArray<[string, Buffer, unknown]> = [
    ['ok', int32(0), { kind: 'ok' }],
    ['cleartext', int32(3), { kind: 'cleartext' }],
    ['md5 with its salt', Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])]), { kind: 'md5', salt: Buffer.from([1, 2, 3, 4]) }],
    ['SASL mechanisms', Buffer.concat([int32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), Buffer.from([0])]), { kind: 'sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }],
    ['SASL continue', Buffer.concat([int32(11), Buffer.from('r=x,s=y,i=1')]), { kind: 'sasl_continue', data: 'r=x,s=y,i=1' }],
    ['SASL final', Buffer.concat([int32(12), Buffer.from('v=abc')]), { kind: 'sasl_final', data: 'v=abc' }],
    ['GSS (not answered here)', int32(7), { kind: 'other', code: 7 }],
  ];
  for (const [label, body, want] of auth) it(`authentication request: ${label}`, () => assert.deepEqual(parseAuthRequest(body), want));
  it('an md5 request cut short is malformed', () => assert.throws(() => parseAuthRequest(Buffer.concat([int32(5), Buffer.from([1])])), /shorter than its fields/));
  it('error fields by their codes', () => {
    const body = Buffer.concat([Buffer.from('S'), cstr('FATAL'), Buffer.from('C'), cstr('28P01'), Buffer.from('M'), cstr('password authentication failed for user "h"'), Buffer.from([0])]);
    assert.deepEqual(parseErrorFields(body), { S: 'FATAL', C: '28P01', M: 'password authentication failed for user "h"' });
  });
  it('row description: names in order; data row: text and NULL', () => {
    const column = (name: string): Buffer => Buffer.concat([cstr(name), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0)]);
    assert.deepEqual(parseRowDescription(Buffer.concat([int16(2), column('a'), column('b')])), ['a', 'b']);
    assert.deepEqual(parseDataRow(Buffer.concat([int16(3), int32(1), Buffer.from('t'), int32(-1), int32(3), Buffer.from('0/1')])), ['t', null, '0/1']);
    assert.throws(() => parseDataRow(Buffer.concat([int16(1), int32(10), Buffer.from('short')])), /shorter than its fields/);
  });
});

describe('lean-pg: SCRAM-SHA-256 (RFC 7677 section 3)', () => {
  const nonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  it("the client's messages and the server's signature of the RFC's exchange", async () => {
    const first = scramClientFirst(nonce, 'user');
    assert.equal(first.message, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = await scramClientFinal('pencil', first, serverFirst);
    assert.equal(final.message, 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    checkServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final);
    assert.throws(() => checkServerFinal('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final), /does not match/);
    assert.throws(() => checkServerFinal('e=invalid-proof', final), /refused: invalid-proof/);
  });
  it("PostgreSQL's form: the user is '*' (taken from the startup)", () => assert.equal(scramClientFirst('abc').message, 'n,,n=*,r=abc'));
  const bad: ReadonlyArray<[string, string, RegExp]> = [
    ["a nonce that does not extend the client's", 'r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /does not extend/],
    ["the client's nonce alone", `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, /does not extend/],
    ['no salt', `r=${nonce}x,i=4096`, /no valid salt/],
    ['zero iterations', `r=${nonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, /iteration count 0 refused/],
    ['more iterations than the limit (would hold the key derivation for minutes)', `r=${nonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=${MAX_SCRAM_ITERATIONS + 1}`, /refused/],
    ['no iteration count', `r=${nonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==`, /iteration count \(none\) refused/],
  ];
  for (const [label, data, error] of bad) it(`server's first message refused: ${label}`, () => assert.throws(() => parseServerFirst(data, nonce), error));
});

describe('lean-pg: text values by type', () => {
  const row = { b: 't', f: 'f', i: '42', n: null, x: '0.5', e: '1e-05', nan: 'NaN', word: 'yes', big: '12345678901234567' };
  it('booleans, integers, floats, text and NULL', () => {
    assert.equal(boolValue(row, 'b'), true);
    assert.equal(boolValue(row, 'f'), false);
    assert.equal(intValue(row, 'i'), 42);
    assert.equal(floatValue(row, 'x'), 0.5);
    assert.equal(floatValue(row, 'e'), 0.00001);
    assert.ok(Number.isNaN(floatValue(row, 'nan')));
    assert.equal(textValue(row, 'word'), 'yes');
    for (const read of [boolValue, intValue, floatValue, textValue]) assert.equal(read(row, 'n'), null);
  });
  it('a value not of its type, or a column the row lacks, is an error naming the column', () => {
    assert.throws(() => boolValue(row, 'word'), /column word: "yes" is not a boolean/);
    assert.throws(() => intValue(row, 'x'), /column x: "0.5" is not an integer/);
    assert.throws(() => intValue(row, 'big'), /column big: .* is not an integer/);
    assert.throws(() => floatValue(row, 'word'), /column word: "yes" is not a number/);
    assert.throws(() => textValue(row, 'missing'), /no column missing/);
  });
});
