/**
 * HPACK for the lean etcd client's HTTP/2 session (src/store/etcd/lean/h2/): the RFC 7541
 * Appendix C examples, the Huffman code against Appendix B, malformed blocks, and the encoder.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeHeaderBlock, fieldAppender, HpackDecoder, HpackError, writeInteger } from '../../src/store/etcd/lean/h2/hpack.js';
import { CODE_LENGTHS, CODES, huffmanDecode, huffmanEncode } from '../../src/store/etcd/lean/h2/huffman.js';

type Fields = Array<[string, string]>;

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function decodeHuffmanHex(text: string): string {
  const buf = hex(text);
  return huffmanDecode(buf, 0, buf.length);
}

// ---- Huffman (Appendix B) ----

test('huffman: the canonical derivation reproduces rows of the RFC 7541 Appendix B table', () => {
  // [symbol, code as hex, length], typed from the RFC's table: each length class and both ends of it.
  const rows: Array<[number, number, number]> = [
    [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [9, 0xffffea, 24], [10, 0x3ffffffc, 30], [13, 0x3ffffffd, 30],
    [22, 0x3ffffffe, 30], [32, 0x14, 6], [33, 0x3f8, 10], [38, 0xf8, 8], [39, 0x7fa, 11], [48, 0x0, 5],
    [58, 0x5c, 7], [60, 0x7ffc, 15], [63, 0x3fc, 10], [92, 0x7fff0, 19], [94, 0x3ffc, 14], [97, 0x3, 5],
    [116, 0x9, 5], [122, 0x7b, 7], [123, 0x7ffe, 15], [124, 0x7fc, 11], [126, 0x1ffd, 13], [127, 0xffffffc, 28],
    [128, 0xfffe6, 20], [153, 0x1fffdc, 21], [195, 0x7fff1, 19], [199, 0x1ffffec, 25], [203, 0x7ffffde, 27],
    [220, 0xffffffd, 28], [235, 0x1ffffef, 25], [249, 0xffffffe, 28], [254, 0x7fffff0, 27], [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, length] of rows) {
    assert.equal(CODE_LENGTHS[sym], length, `length of symbol ${sym}`);
    assert.equal(CODES[sym], code, `code of symbol ${sym}`);
  }
  // A complete prefix code: the Kraft sum is exactly 1 (a mistyped length breaks it).
  assert.equal(CODE_LENGTHS.reduce((sum, length) => sum + 2 ** -length, 0), 1);
});

test('huffman: the RFC 7541 Appendix C strings encode and decode', () => {
  const rows: Array<[string, string]> = [
    ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
    ['no-cache', 'a8eb 1064 9cbf'],
    ['custom-key', '25a8 49e9 5ba9 7d7f'],
    ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
    ['302', '6402'],
    ['307', '640e ff'],
    ['private', 'aec3 771a 4b'],
    ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
    ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
    ['gzip', '9bd9 ab'],
    [
      'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
      '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ],
  ];
  for (const [text, encoded] of rows) {
    assert.equal(huffmanEncode(text).toString('hex'), encoded.replace(/ /g, ''), `encode ${text}`);
    assert.equal(decodeHuffmanHex(encoded), text, `decode ${text}`);
  }
});

test('huffman: every byte value round-trips, alone and in one string', () => {
  let all = '';
  for (let byte = 0; byte < 256; byte++) {
    const one = String.fromCharCode(byte);
    const encoded = huffmanEncode(one);
    assert.equal(huffmanDecode(encoded, 0, encoded.length), one, `byte ${byte}`);
    all += one;
  }
  const reversed = [...all].reverse().join('');
  for (const text of [all, reversed, all + all]) {
    const encoded = huffmanEncode(text);
    assert.equal(huffmanDecode(encoded, 0, encoded.length), text);
  }
  assert.equal(huffmanDecode(Buffer.alloc(0), 0, 0), '');
});

test('huffman: decodes only the given range of the buffer', () => {
  const inner = huffmanEncode('grpc-status');
  const buf = Buffer.concat([Buffer.from([0x00, 0xfe]), inner, Buffer.from([0x00])]);
  assert.equal(huffmanDecode(buf, 2, 2 + inner.length), 'grpc-status');
});

test('huffman: malformed strings throw HpackError', () => {
  const rows: Array<[string, string, RegExp]> = [
    // 'a' is 00011: a full octet 0x1f is 'a' + 3 bits of padding; the rows break that padding.
    ['1f ff', 'padding of 11 bits', /padding/],
    ['18', 'padding 000 (not ones)', /padding/],
    ['1e', 'padding 110 (not all ones)', /padding/],
    ['ff', 'a string of padding only, 8 bits', /padding/],
    ['ffff fffc', 'EOS (30 ones) then 00', /EOS/],
    ['1f ff ff ff ff', 'a, padding, then EOS', /EOS/],
    ['fe', '7 of the 10 bits of "!"', /padding/],
  ];
  for (const [encoded, what, message] of rows) {
    assert.throws(() => decodeHuffmanHex(encoded), (error: unknown) => error instanceof HpackError && message.test(error.message), what);
  }
  // The boundary: 7 bits of ones padding is allowed.
  assert.equal(decodeHuffmanHex('1f'), 'a');
  assert.equal(decodeHuffmanHex('0f'), '1'); // 00001 then 111
});

// ---- Integers (C.1) ----

test('C.1: integer representation', () => {
  const encode = (flags: number, prefixBits: number, value: number): string => {
    const out = Buffer.alloc(8);
    return out.subarray(0, writeInteger(out, 0, flags, prefixBits, value)).toString('hex');
  };
  assert.equal(encode(0, 5, 10), '0a'); // C.1.1
  assert.equal(encode(0, 5, 1337), '1f9a0a'); // C.1.2
  assert.equal(encode(0, 8, 42), '2a'); // C.1.3
  // Decoding, through dynamic table size updates (a 5-bit prefix, as in C.1.1 and C.1.2).
  const decoder = new HpackDecoder(4096);
  decoder.decode(hex('2a'));
  assert.equal(decoder.tableMaxSize, 10);
  decoder.decode(hex('3f 9a 0a'));
  assert.equal(decoder.tableMaxSize, 1337);
  // High bits above the prefix are the representation's, not the integer's.
  decoder.decode(hex('3f e1 1f'));
  assert.equal(decoder.tableMaxSize, 4096);
});

// ---- Header blocks (C.2 - C.6) ----

interface Step {
  readonly block: string;
  readonly headers: Fields;
  readonly table: Fields;
  readonly size: number;
}

function runSeries(decoder: HpackDecoder, steps: readonly Step[]): void {
  steps.forEach((step, i) => {
    assert.deepEqual(decoder.decode(hex(step.block)), step.headers, `headers of block ${i + 1}`);
    assert.deepEqual(decoder.tableEntries, step.table, `table after block ${i + 1}`);
    assert.equal(decoder.tableSize, step.size, `table size after block ${i + 1}`);
  });
}

test('C.2.1-C.2.4: the four single representations', () => {
  runSeries(new HpackDecoder(), [
    {
      block: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      headers: [['custom-key', 'custom-header']],
      table: [['custom-key', 'custom-header']],
      size: 55,
    },
  ]);
  runSeries(new HpackDecoder(), [
    { block: '040c 2f73 616d 706c 652f 7061 7468', headers: [[':path', '/sample/path']], table: [], size: 0 },
  ]);
  runSeries(new HpackDecoder(), [
    { block: '1008 7061 7373 776f 7264 0673 6563 7265 74', headers: [['password', 'secret']], table: [], size: 0 },
  ]);
  runSeries(new HpackDecoder(), [{ block: '82', headers: [[':method', 'GET']], table: [], size: 0 }]);
});

const REQUESTS: ReadonlyArray<Omit<Step, 'block'>> = [
  {
    headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    table: [[':authority', 'www.example.com']],
    size: 57,
  },
  {
    headers: [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 110,
  },
  {
    headers: [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
    table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
    size: 164,
  },
];

test('C.3: three requests on one decoder, without Huffman', () => {
  const blocks = [
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ];
  runSeries(new HpackDecoder(), REQUESTS.map((step, i) => ({ ...step, block: blocks[i]! })));
});

test('C.4: three requests on one decoder, with Huffman', () => {
  const blocks = [
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
    '8286 84be 5886 a8eb 1064 9cbf',
    '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  ];
  runSeries(new HpackDecoder(), REQUESTS.map((step, i) => ({ ...step, block: blocks[i]! })));
});

const DATE_21 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_22 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';

// A 256-octet table: the responses evict entries.
const RESPONSES: ReadonlyArray<Omit<Step, 'block'>> = [
  {
    headers: [[':status', '302'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]],
    table: [['location', LOCATION], ['date', DATE_21], ['cache-control', 'private'], [':status', '302']],
    size: 222,
  },
  {
    headers: [[':status', '307'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]],
    table: [[':status', '307'], ['location', LOCATION], ['date', DATE_21], ['cache-control', 'private']],
    size: 222,
  },
  {
    headers: [
      [':status', '200'], ['cache-control', 'private'], ['date', DATE_22], ['location', LOCATION],
      ['content-encoding', 'gzip'], ['set-cookie', COOKIE],
    ],
    table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE_22]],
    size: 215,
  },
];

test('C.5: three responses, table of 256 octets, without Huffman', () => {
  const blocks = [
    `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    '4803 3330 37c1 c0bf',
    `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
  ];
  runSeries(new HpackDecoder(256), RESPONSES.map((step, i) => ({ ...step, block: blocks[i]! })));
});

test('C.6: three responses, table of 256 octets, with Huffman', () => {
  const blocks = [
    `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    '4883 640e ffc1 c0bf',
    `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
     9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
  ];
  runSeries(new HpackDecoder(256), RESPONSES.map((step, i) => ({ ...step, block: blocks[i]! })));
});

test('dynamic table: size updates evict, an oversized entry empties the table, the ring grows past 16 entries', () => {
  const decoder = new HpackDecoder();
  const adds = (count: number): Buffer =>
    Buffer.concat(Array.from({ length: count }, (_, i) => encodeIndexed(`k${i}`, 'v')));
  decoder.decode(adds(40));
  assert.equal(decoder.tableEntries.length, 40);
  assert.deepEqual(decoder.tableEntries[0], ['k39', 'v']);
  assert.deepEqual(decoder.tableEntries[39], ['k0', 'v']);
  // Index 62 is the newest entry, 62 + 39 the oldest.
  assert.deepEqual(decoder.decode(hex('be')), [['k39', 'v']]);
  assert.deepEqual(decoder.decode(hex('e5')), [['k0', 'v']]); // index 62 + 39 = 101
  const sizeOfOne = 'k10'.length + 1 + 32;
  decoder.decode(hex('3f 83 01')); // size update to 31 + 3 + 128 = 162: four 36-octet entries fit
  assert.equal(decoder.tableEntries.length, Math.floor(162 / sizeOfOne));
  assert.deepEqual(decoder.tableEntries[0], ['k39', 'v'], 'eviction takes the oldest entries');
  decoder.decode(encodeIndexed('big', 'x'.repeat(200)));
  assert.deepEqual(decoder.tableEntries, [], 'an entry larger than the table empties it');
  assert.equal(decoder.tableSize, 0);
  decoder.decode(Buffer.concat([hex('3f e1 1f'), adds(2)]));
  decoder.decode(hex('20'));
  assert.deepEqual(decoder.tableEntries, [], 'a size update to 0 evicts everything');
  assert.equal(decoder.tableMaxSize, 0);
});

/** A literal with incremental indexing and a literal name (raw strings). */
function encodeIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), rawString(value)]);
}

function rawString(text: string): Buffer {
  const prefix = Buffer.alloc(8);
  return Buffer.concat([prefix.subarray(0, writeInteger(prefix, 0, 0, 7, text.length)), Buffer.from(text, 'latin1')]);
}

test('decoder: latin1 bytes come back as the same chars', () => {
  const block = Buffer.concat([Buffer.from([0x00, 0x01, 0x78]), rawString('\u00e9\u00ff\u0080')]);
  assert.deepEqual(new HpackDecoder().decode(block), [['x', '\u00e9\u00ff\u0080']]);
});

test('decoder: malformed blocks throw HpackError and leave the decoder unusable', () => {
  const rows: Array<[string, string | Buffer, RegExp, HpackDecoder?]> = [
    ['index 0', '80', /index 0 /],
    ['index 62 with an empty dynamic table', 'be', /index 62 /],
    ['index 63 with one dynamic entry', Buffer.concat([encodeIndexed('a', 'b'), hex('bf')]), /index 63 /],
    ['literal with a name index past the tables', '7e 01 61', /index 62 /],
    ['size update above the advertised maximum', '3f e2 1f', /size update to 4097/],
    ['size update after a header field', '82 20', /after a header field/],
    ['integer of 5 continuation octets', '3f 80 80 80 80 01', /continuation octets/, new HpackDecoder(2 ** 30)],
    ['block ends inside an integer', '3f 80', /inside an integer/],
    ['string runs past the block', '40 05 6162', /runs past the block/],
    ['no value string after the name', '04', /before a string literal/],
    ['Huffman value with bad padding', '04 81 18', /padding/],
    ['header list over the limit', Buffer.concat([encodeIndexed('n', 'x'.repeat(40)), encodeIndexed('m', 'y'.repeat(40))]), /header list over 100/, new HpackDecoder(4096, 100)],
  ];
  for (const [what, block, message, given] of rows) {
    const decoder = given ?? new HpackDecoder();
    const buf = typeof block === 'string' ? hex(block) : block;
    assert.throws(() => decoder.decode(buf), (error: unknown) => error instanceof HpackError && message.test(error.message), what);
    assert.throws(() => decoder.decode(hex('82')), /unusable/, `${what}: the decoder stays unusable`);
  }
  // The boundaries the rows sit just past are accepted.
  assert.equal(new HpackDecoder(2 ** 30).decode(hex('3f 80 80 80 01')).length, 0, '4 continuation octets');
  assert.equal(new HpackDecoder().decode(hex('3f e1 1f')).length, 0, 'size update to exactly the maximum');
  const justFits = Buffer.concat([encodeIndexed('n', 'x'.repeat(33)), encodeIndexed('m', 'y')]); // 66 + 34 octets
  assert.equal(new HpackDecoder(4096, 100).decode(justFits).length, 2, 'a list of exactly 100 bytes');
});

// ---- Encoder ----

test('encodeHeaderBlock: static pairs indexed, static names by index, other names literal; raw strings', () => {
  assert.equal(encodeHeaderBlock([[':method', 'POST']]).toString('hex'), '83');
  assert.equal(encodeHeaderBlock([[':scheme', 'http']]).toString('hex'), '86');
  assert.equal(encodeHeaderBlock([[':path', '/x']]).toString('hex'), '04022f78', 'name index 4, without indexing');
  assert.equal(encodeHeaderBlock([['content-type', 'application/grpc']]).toString('hex'), '0f10' + '10' + Buffer.from('application/grpc').toString('hex'), 'index 31 takes a continuation octet');
  assert.equal(encodeHeaderBlock([['te', 'trailers']]).toString('hex'), '00027465' + '08' + Buffer.from('trailers').toString('hex'));
  assert.equal(encodeHeaderBlock([]).length, 0);
});

test('encodeHeaderBlock: a gRPC request round-trips through the decoder and leaves its table empty', () => {
  const headers: Fields = [
    [':method', 'POST'], [':scheme', 'https'], [':path', '/etcdserverpb.KV/Range'], [':authority', '127.0.0.1:2379'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ['token', 't'.repeat(300)], ['x-latin1', '\u00e9\u00ff'],
  ];
  const decoder = new HpackDecoder();
  assert.deepEqual(decoder.decode(encodeHeaderBlock(headers)), headers);
  assert.deepEqual(decoder.tableEntries, []);
});

test('encodeHeaderBlock: rejects upper case names, empty names, CR/LF/NUL, edge white space and chars above 0xff', () => {
  const rows: Array<[string, string, RegExp]> = [
    ['Content-Type', 'x', /upper case/],
    ['x-A', 'x', /upper case/],
    ['', 'x', /empty header name/],
    ['x-a', 'a\rb', /CR, LF or NUL/],
    ['x-a', 'a\nb', /CR, LF or NUL/],
    ['x-a', 'a\0b', /CR, LF or NUL/],
    ['x\n', 'v', /CR, LF or NUL/],
    ['x-a', 'caf\u0113', /above 0xff/],
    ['x-a', ' lead', /white space/],
    ['x-a', 'trail\t', /white space/],
  ];
  for (const [name, value, message] of rows) {
    assert.throws(() => encodeHeaderBlock([[':method', 'POST'], [name, value]]), message, JSON.stringify([name, value]));
  }
});

test('fieldAppender: the block with the field appended decodes as the fields together; values are checked', () => {
  const cached: Fields = [[':method', 'POST'], [':path', '/etcdserverpb.Lease/LeaseKeepAlive'], ['te', 'trailers']];
  const block = encodeHeaderBlock(cached);
  const withTimeout = fieldAppender('grpc-timeout');
  for (const value of ['0m', '999m', `${'9'.repeat(200)}m`]) {
    const decoder = new HpackDecoder();
    assert.deepEqual(withTimeout(block, value), encodeHeaderBlock([...cached, ['grpc-timeout', value]]), 'the same bytes as the whole list encoded');
    assert.deepEqual(decoder.decode(withTimeout(block, value)), [...cached, ['grpc-timeout', value]]);
    assert.deepEqual(decoder.tableEntries, []);
  }
  assert.deepEqual(new HpackDecoder().decode(fieldAppender('content-type')(block, 'x')), [...cached, ['content-type', 'x']], 'a static name by its index');
  assert.equal(block.length, encodeHeaderBlock(cached).length, 'the cached block is left as it was');
  assert.throws(() => withTimeout(block, '1m\r\nx: y'), /CR, LF or NUL/);
  assert.throws(() => withTimeout(block, ' 1m'), /white space/);
  assert.throws(() => fieldAppender('Grpc-Timeout'), /upper case/);
  assert.throws(() => fieldAppender(':path'), /pseudo-header/);
});
