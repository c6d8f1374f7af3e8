/**
 * Sends a signal request on an SSH exec channel, also after our side sent EOF.
 *
 * ssh2's public `channel.signal()` silently does nothing once the channel's writable side has
 * ended, but we always end it at once (commands must see EOF on stdin). The SSH protocol allows
 * channel requests after EOF, and OpenSSH honours them, so the request is then sent through the
 * channel's protocol object; if ssh2's internals ever change shape, this degrades to a no-op and
 * the caller's channel close still ends the command's output.
 */
import type { ClientChannel } from 'ssh2';

/** The parts of ssh2's Channel internals used here, all optional so a changed shape is detected. */
interface ChannelInternals {
  outgoing?: { id?: unknown; state?: unknown };
  _client?: { _protocol?: { signal?: unknown } };
}

type ProtocolSignal = (channelId: number, signalName: string) => void;

/** Asks the remote side to send `signalName` (e.g. `KILL`) to the command. Never throws. */
export function signalChannel(channel: ClientChannel, signalName: string): void {
  try {
    if (channel.writable) {
      channel.signal(signalName);
      return;
    }
    const internals = channel as unknown as ChannelInternals;
    const id = internals.outgoing?.id;
    const protocol = internals._client?._protocol;
    const signal = protocol?.signal;
    if (typeof id === 'number' && internals.outgoing?.state === 'eof' && typeof signal === 'function') {
      (signal as ProtocolSignal).call(protocol, id, signalName);
    }
  } catch {
    // Best effort: the connection may already be gone.
  }
}
