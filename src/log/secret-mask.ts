/**
 * Masking of known secrets in log messages, whatever their length. A secret also reaches messages
 * in escaped forms (inside a libpq conninfo, an SQL or configuration-file literal, a passfile
 * line, a JSON string), so each escaped form is masked too, longest first so that a form
 * containing another is masked whole.
 */

export const MASK = '********';

/** The secret as written raw and in every escaped form HandyRep or a library may print it. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'"), // libpq conninfo value
    secret.replace(/'/g, "''"), // SQL / postgresql.conf literal
    secret.replace(/\\/g, '\\\\').replace(/'/g, "''"), // postgresql.conf literal with backslashes
    secret.replace(/\\/g, '\\\\').replace(/:/g, '\\:'), // passfile field
    JSON.stringify(secret).slice(1, -1), // inside a JSON string
  ]);
  return [...forms];
}

/** Every form of every non-empty secret, longest first (the order maskSecrets needs). */
export function maskList(secrets: readonly string[]): string[] {
  const all = new Set<string>();
  for (const s of secrets) if (s.length > 0) for (const form of secretForms(s)) all.add(form);
  return [...all].sort((a, b) => b.length - a.length);
}

/** `message` with every occurrence of each entry of `list` (from maskList) replaced by MASK. */
export function maskSecrets(message: string, list: readonly string[]): string {
  let out = message;
  for (const form of list) out = out.split(form).join(MASK);
  return out;
}
