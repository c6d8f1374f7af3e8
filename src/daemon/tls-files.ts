/**
 * The PEM files of an HTTPS listener (`tls_cert` + `tls_key`, relative to the configuration file),
 * read once at start. Shared by the daemon (`daemon.*`) and the node agent's health endpoints
 * (`agent.*`), so both have the same settings and the same errors.
 */
import { readFile } from 'node:fs/promises';
import { resolvePath } from '../config/merge.js';
import { HandyRepError } from '../model/errors.js';

export interface TlsSettings {
  readonly tls_cert: string | null;
  readonly tls_key: string | null;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** null when TLS is off; CONFIG_UNREADABLE naming `<section>.<key>` when a file cannot be read. */
export async function readTlsFiles(settings: TlsSettings, dir: string, section: 'daemon' | 'agent'): Promise<TlsFiles | null> {
  if (settings.tls_cert === null || settings.tls_key === null) return null;
  const read = async (key: 'tls_cert' | 'tls_key', path: string): Promise<Buffer> => {
    try {
      return await readFile(resolvePath(dir, path));
    } catch (err) {
      throw new HandyRepError('CONFIG_UNREADABLE', `${section}.${key}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: await read('tls_cert', settings.tls_cert), key: await read('tls_key', settings.tls_key) };
}
