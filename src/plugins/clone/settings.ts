/** Settings shared by the clone plugins. */
import { z } from 'zod';

/** Extra command-line arguments: argv elements, never parsed by a shell. */
export const extraArgsSchema = z.array(z.string().refine((s) => !/[\0\n\r]/.test(s), 'must not contain NUL or line breaks')).default([]);

/** How long a copy may take at most (default one day). */
export const cloneTimeoutSchema = z.number().positive().finite().default(86400);

/** Seconds between two reads of the copy's progress. */
export const progressIntervalSchema = z.number().positive().finite().default(1);

/**
 * How long the verification of a finished copy may take (clone_basebackup's pg_verifybackup), from
 * its own start: not the rest of the copy's time. Unset: as long as the copy may take (it reads the
 * copy once more, locally, about as much as the copy wrote).
 */
export const verifyTimeoutSchema = z.number().positive().finite().optional();
