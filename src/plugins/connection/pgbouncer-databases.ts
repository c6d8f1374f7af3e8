/**
 * The `[databases]` lines of a pgbouncer configuration that route clients to the current master
 * (and read-only aliases to replicas). Pure: routing in, text out; the plugin writes it.
 */

/** Where a database alias points. */
export interface BouncerBackend {
  name: string;
  host: string;
  port: number;
}

export interface BouncerDatabasesInput {
  master: BouncerBackend;
  /** Replicas for read-only aliases, best first. */
  replicas: readonly BouncerBackend[];
  /** Databases routed to the master under their own name. */
  databases: readonly string[];
  /** Suffix of the read-only alias of each database (`app_ro`); null = no read-only aliases. */
  readonlySuffix: string | null;
  /** One read-only alias per replica (`app_ro1`, `app_ro2`, …) instead of one to the best replica. */
  allReplicas: boolean;
  /** `key=value` pairs appended to every connection string (e.g. `pool_size=20`). */
  extraConnectParam: string;
}

/** The `[databases]` section body: one `alias = host=… port=… dbname=…` line per alias. */
export function bouncerDatabaseLines(input: BouncerDatabasesInput): string[] {
  const lines: string[] = [];
  const line = (alias: string, db: string, backend: BouncerBackend): void => {
    const extra = input.extraConnectParam.trim();
    lines.push(`${alias} = host=${backend.host} port=${backend.port} dbname=${db}${extra === '' ? '' : ` ${extra}`}`);
  };
  for (const db of input.databases) line(db, db, input.master);
  if (input.readonlySuffix === null) return lines;
  for (const db of input.databases) {
    const alias = `${db}${input.readonlySuffix}`;
    if (input.allReplicas) {
      // With no replica the one read-only alias goes to the master, so clients always find it.
      const backends = input.replicas.length > 0 ? input.replicas : [input.master];
      backends.forEach((backend, i) => line(`${alias}${i + 1}`, db, backend));
    } else {
      line(alias, db, input.replicas[0] ?? input.master);
    }
  }
  return lines;
}

/**
 * The file HandyRep writes: with a template, its `{{ dbsection }}` and `{{ port }}` filled in;
 * without one, a `[databases]` section of its own, for pgbouncer.ini to `%include`.
 */
export function bouncerConfigFile(lines: readonly string[], template: string | null, bouncerPort: number): string {
  const dbsection = lines.join('\n');
  if (template === null) {
    return `; Written by HandyRep: the databases and where they point. Changed at every failover.\n[databases]\n${dbsection}\n`;
  }
  return template.replaceAll('{{ dbsection }}', dbsection).replaceAll('{{ port }}', String(bouncerPort));
}
