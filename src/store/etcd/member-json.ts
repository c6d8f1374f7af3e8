/**
 * The one lenient first step of every reader of a member record (`members/<node>`, written by
 * src/agent/member-record.ts): its JSON text as a bag of fields, each to be checked by the reader
 * (member-view.ts, src/nodes/boot-step-busy.ts). Records come from agents of other versions, so
 * nothing here is trusted beyond "an object".
 */

/** The record's fields; null when there is no record (absent key), or it is not JSON, or not a JSON object. */
export function memberFields(text: string | null): Readonly<Record<string, unknown>> | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  return value as Record<string, unknown>;
}
