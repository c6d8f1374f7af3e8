/** The databases file multi_pgbouncer writes: where each alias points, for a given routing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bouncerConfigFile, bouncerDatabaseLines, type BouncerDatabasesInput } from '../../src/plugins/connection/pgbouncer-databases.js';

const john = { name: 'john', host: '10.0.0.1', port: 5432 };
const paul = { name: 'paul', host: '10.0.0.2', port: 5433 };
const george = { name: 'george', host: '10.0.0.3', port: 5432 };
const base: BouncerDatabasesInput = { master: john, replicas: [paul, george], databases: ['app', 'postgres'], readonlySuffix: '_ro', allReplicas: false, extraConnectParam: '' };

test('each database goes to the master; its read-only alias to the best replica', () => {
  assert.deepEqual(bouncerDatabaseLines(base), [
    'app = host=10.0.0.1 port=5432 dbname=app',
    'postgres = host=10.0.0.1 port=5432 dbname=postgres',
    'app_ro = host=10.0.0.2 port=5433 dbname=app',
    'postgres_ro = host=10.0.0.2 port=5433 dbname=postgres',
  ]);
});

test('no replica: the read-only alias goes to the master, so clients still find it', () => {
  assert.deepEqual(bouncerDatabaseLines({ ...base, replicas: [], databases: ['app'] }), [
    'app = host=10.0.0.1 port=5432 dbname=app',
    'app_ro = host=10.0.0.1 port=5432 dbname=app',
  ]);
});

test('all_replicas: one numbered alias per replica, in order', () => {
  assert.deepEqual(bouncerDatabaseLines({ ...base, databases: ['app'], allReplicas: true }), [
    'app = host=10.0.0.1 port=5432 dbname=app',
    'app_ro1 = host=10.0.0.2 port=5433 dbname=app',
    'app_ro2 = host=10.0.0.3 port=5432 dbname=app',
  ]);
});

test('no suffix: no read-only aliases; extra parameters end every line', () => {
  assert.deepEqual(bouncerDatabaseLines({ ...base, databases: ['app'], readonlySuffix: null, extraConnectParam: ' pool_size=20 ' }), [
    'app = host=10.0.0.1 port=5432 dbname=app pool_size=20',
  ]);
});

test('without a template the file is a [databases] section; with one, dbsection and port are filled in', () => {
  const lines = ['app = host=10.0.0.1 port=5432 dbname=app'];
  assert.match(bouncerConfigFile(lines, null, 6432), /^; .*\n\[databases\]\napp = host=10\.0\.0\.1 port=5432 dbname=app\n$/);
  const template = '[databases]\n{{ dbsection }}\n[pgbouncer]\nlisten_port = {{ port }}\n';
  assert.equal(bouncerConfigFile(lines, template, 6432), '[databases]\napp = host=10.0.0.1 port=5432 dbname=app\n[pgbouncer]\nlisten_port = 6432\n');
});
