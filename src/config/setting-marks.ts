/**
 * Security marks on configuration settings, declared in the schema itself (zod metadata, carried
 * into the JSON Schema as `x-` keys), so that the API guard, the redaction, the plugin check and
 * the generated reference all read one declaration instead of lists kept by hand:
 *
 * - config-only: the setting chooses what runs where (a program folder, an OS user, a key, a
 *   plugin, a command); it comes from the configuration file on the controller, never from the
 *   web API.
 * - secret: the value never leaves the process in clear (API replies, the handyrep table, logs).
 *   `value` hides the whole value, `url` keeps only the scheme and host of a URL, `by-name`
 *   marks a free-form mapping whose keys are judged by name (see SECRET_NAME_PATTERN).
 * - plugin kind: the setting names a plugin of that kind; checked against the registry.
 */
import type { z } from 'zod';

export const CONFIG_ONLY_KEY = 'x-handyrep-config-only';
export const SECRET_KEY = 'x-handyrep-secret';
export const PLUGIN_KIND_KEY = 'x-handyrep-plugin-kind';

export type SecretMark = 'value' | 'url' | 'by-name';

/** Keys of free-form settings that hold secrets: passwords, tokens, keys, headers, environments, credentials. */
export const SECRET_NAME_PATTERN = /pass|token|secret|key|auth|cookie|credential|header|env/i;
/** Keys of free-form settings that hold URLs, which may carry credentials (user:password@, ?token=, a secret path). */
export const URL_NAME_PATTERN = /(^|_)(url|uri|endpoint|webhook)s?($|_)/i;

/** The setting is set in the configuration file only (refused by the web API). */
export function configOnly<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [CONFIG_ONLY_KEY]: true });
}

/** The setting holds a secret, redacted wherever it leaves the process. */
export function secret<T extends z.ZodType>(schema: T, mark: SecretMark = 'value'): T {
  return schema.meta({ [SECRET_KEY]: mark });
}

/** The setting names a plugin of `kind` (and so chooses code that runs: configuration file only). */
export function pluginName<T extends z.ZodType>(schema: T, kind: string): T {
  return schema.meta({ [PLUGIN_KIND_KEY]: kind, [CONFIG_ONLY_KEY]: true });
}
