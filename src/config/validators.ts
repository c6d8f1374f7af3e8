/**
 * Field validators shared by the config schema and the API parameter schemas. They are strict on
 * purpose: every value here may end up in a command line or a connection string, so anything that
 * is not plainly a name, a hostname or a path is refused before it can reach a node.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * JSON Schema extension key naming what a string validator accepts (`name`, `hostname`, `path`,
 * `sql-identifier`), so the generated reference and error messages can say "a hostname" rather than
 * "a string" (the hostname check is a refinement JSON Schema cannot express). `x-` keys are ignored
 * by JSON Schema and OpenAPI tools.
 */
export const VALUE_KIND_KEY = 'x-handyrep-kind';

/** Server, plugin, section and cluster names: letters, digits, `_ . -`, starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const HOSTNAME_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_PATTERN = new RegExp(`^${HOSTNAME_LABEL}(?:\\.${HOSTNAME_LABEL})*$`);

/**
 * Paths: no spaces, quotes, shell operators or control characters; no `%` (archive_command and
 * restore_command would expand it). pathSchema also refuses a leading `-` (an option to the
 * command it is given to) and `..` components (a way out of the folder the setting names).
 */
export const PATH_PATTERN = /^[A-Za-z0-9_./~+@,=:-]+$/;

/** SQL identifiers HandyRep creates (schema and table of its state table). */
export const SQL_IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** True for a DNS hostname (RFC 1123 labels) or an IPv4/IPv6 address. */
export function isValidHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return isIP(value) !== 0 || HOSTNAME_PATTERN.test(value);
}

/** A name (see NAME_PATTERN): safe as a command argument, file name part or plugin name. */
export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit')
  .meta({ [VALUE_KIND_KEY]: 'name' });

/** A hostname or IP address, never anything a shell or ssh would interpret. */
export const hostnameSchema = z
  .string()
  .refine(isValidHostname, 'must be a hostname (letters, digits, "-" and ".") or an IP address')
  .meta({ [VALUE_KIND_KEY]: 'hostname' });

/** Why `value` is not an acceptable path, or null (see PATH_PATTERN). */
export function pathProblem(value: string): string | null {
  if (!PATH_PATTERN.test(value)) return 'must be a path of letters, digits and "_ . / ~ + @ , = : -" only (no spaces, "%" or shell characters)';
  if (value.startsWith('-')) return 'must not start with "-" (it would be read as a command option)';
  if (value.split('/').includes('..')) return 'must not contain ".." components';
  return null;
}

/** A file or folder path (see pathProblem). */
export const pathSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = pathProblem(value);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ [VALUE_KIND_KEY]: 'path' });

/** A path (see pathProblem) that must be absolute: read by a process whose working folder is not ours. */
export const absolutePathSchema = pathSchema
  .refine((value) => value.startsWith('/'), 'must be an absolute path (starting with "/")')
  .meta({ [VALUE_KIND_KEY]: 'path' });

/** An SQL identifier that needs no quoting (see SQL_IDENTIFIER_PATTERN). */
export const sqlIdentifierSchema = z
  .string()
  .regex(SQL_IDENTIFIER_PATTERN, 'must be a lower-case SQL identifier (a-z, 0-9, "_")')
  .meta({ [VALUE_KIND_KEY]: 'sql-identifier' });

/** A command as an argv array: each element is one argument, never parsed by a shell. */
export const argvSchema = z
  .array(z.string().refine((s) => !/[\0\n\r]/.test(s), 'must not contain NUL or line breaks'))
  .min(1, 'must name a command');

/** A duration in seconds; fractions allowed, zero and negatives refused. */
export const secondsSchema = z.number().positive('must be a positive number of seconds').finite();

/** Why `value` is not an etcd client URL (`http(s)://host:port`, nothing else), or null. */
export function etcdEndpointProblem(value: string): string | null {
  const match = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[^/:@?#\s]+):(\d{1,5})\/?$/.exec(value);
  if (!match) return 'must be an etcd client URL http://host:port or https://host:port (no user, path or query)';
  const host = (match[2] as string).replace(/^\[|\]$/g, '');
  if (!isValidHostname(host)) return `host ${host} is not a hostname or IP address`;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`;
  return null;
}

/** An etcd client URL (see etcdEndpointProblem). */
export const etcdEndpointSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = etcdEndpointProblem(value);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ [VALUE_KIND_KEY]: 'url' });

/** Why `value` is not an etcd key prefix (`/…/`, printable, no empty or dot segments), or null. */
export function etcdPrefixProblem(value: string): string | null {
  if (!value.startsWith('/') || !value.endsWith('/')) return 'must start and end with "/" (e.g. /handyrep/main/)';
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  if (value.length > 200) return 'must be at most 200 characters';
  // An empty or dot segment would make two spellings of one prefix (//a/ and /a/) look different.
  if (value !== '/' && value.slice(1, -1).split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return 'must not contain empty, "." or ".." segments';
  }
  return null;
}

/** An etcd key prefix (see etcdPrefixProblem). */
export const etcdPrefixSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = etcdPrefixProblem(value);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({ [VALUE_KIND_KEY]: 'etcd-prefix' });
