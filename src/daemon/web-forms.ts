/**
 * Web forms of functions whose HTTP parameters differ from the library's (seed 004): the web
 * `get_setting` takes `category` (default "handyrep") and `setting` and reads [category, setting].
 * Keyed by function name because these are documented wire formats, not a list of routes: every
 * other function takes its library parameters as they are.
 */
import { z } from 'zod';
import { nameSchema } from '../config/validators.js';

/** How a function's web parameters map to its library parameters. */
export interface WebForm {
  /** The parameters as HTTP callers send them. */
  readonly params: z.ZodObject;
  /** Named library parameters from the validated web parameters. */
  toLibrary(web: Record<string, unknown>): Record<string, unknown>;
  /** The web parameter an error about a library parameter is really about. */
  wireName(libraryName: string): string;
  /** The web parameter an error that names none is about. */
  readonly mainParameter: string;
}

const getSetting: WebForm = {
  params: z
    .object({
      category: nameSchema.default('handyrep').describe('Section of the configuration.'),
      setting: nameSchema.describe('The setting in that section.'),
    })
    .strict(),
  toLibrary: (web) => ({ setting_name: [web['category'], web['setting']] }),
  wireName: (name) => (name === 'setting_name' ? 'setting' : name),
  mainParameter: 'setting',
};

const WEB_FORMS: ReadonlyMap<string, WebForm> = new Map([['get_setting', getSetting]]);

/** The web form of a function, when it has one. */
export function webFormOf(functionName: string): WebForm | undefined {
  return WEB_FORMS.get(functionName);
}
