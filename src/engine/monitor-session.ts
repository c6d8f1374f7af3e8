/**
 * The life of one monitoring session (one per monitored server), as a pure transition table:
 * when to open, when to end, when a loss must wake the monitor at once, and whether a failed
 * query is tried again on a new session within the same poll.
 */

export type SessionPhase =
  /** No session: the next query opens one. */
  | 'none'
  | 'connecting'
  | 'open'
  /** Ended by HandyRep (shutdown, monitoring stopped): no loss is reported any more. */
  | 'closed';

export type SessionEvent =
  | 'query'
  | 'connected'
  | 'connect_failed'
  /** The server ended the connection (crash, refused, reset) without being asked to. */
  | 'lost'
  /** The server stayed silent past the poll's timeout: the session is cut. */
  | 'query_timeout'
  /** A query failed for another reason (connection error, SQL error): the session is not trusted. */
  | 'query_failed'
  | 'close';

export interface SessionTransition {
  phase: SessionPhase;
  /** Open a new session now. */
  open: boolean;
  /** End the current session. */
  end: boolean;
  /** Wake the monitor: a live session dropped, so the server may have failed this instant. */
  wake: boolean;
}

const stay = (phase: SessionPhase): SessionTransition => ({ phase, open: false, end: false, wake: false });

export function nextSession(phase: SessionPhase, event: SessionEvent): SessionTransition {
  switch (event) {
    case 'query':
      // A closed session reopens when asked again (monitoring restarted, a status poll).
      return phase === 'none' || phase === 'closed' ? { phase: 'connecting', open: true, end: false, wake: false } : stay(phase);
    case 'connected':
      // Connected after a close: that session is not kept.
      return phase === 'connecting' ? stay('open') : { phase, open: false, end: true, wake: false };
    case 'connect_failed':
      return phase === 'connecting' ? stay('none') : stay(phase);
    case 'lost':
      // Only a session that was in use is news; the query that broke it reports on its own.
      return phase === 'open' ? { phase: 'none', open: false, end: true, wake: true } : stay(phase);
    case 'query_timeout':
    case 'query_failed':
      return phase === 'open' ? { phase: 'none', open: false, end: true, wake: false } : stay(phase);
    case 'close':
      return { phase: 'closed', open: false, end: phase === 'open', wake: false };
  }
}

/**
 * After a failed query: try once more on a new session when the failed one was an old one and the
 * failure was not silence (a session cut while idle, e.g. by a restart, says nothing about the
 * server now; the new connect tells refused from starting). A timeout is never retried, so a
 * silent host costs one timeout.
 */
export function retryOnNewSession(failure: 'timeout' | 'other', sessionWasReused: boolean): boolean {
  return failure === 'other' && sessionWasReused;
}
