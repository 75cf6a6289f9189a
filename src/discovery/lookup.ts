/**
 * A daemon named the way people name it: its friendly name (as announced, or in full before the
 * 63-byte cut) or its host name, with or without `.local`. This is what lets `--host "GPU box"`
 * work without knowing the address or the port.
 */
import type { Logger } from '../log.js';
import { discover, type DiscoveredService } from './browser.js';
import { instanceLabel } from './names.js';

const fold = (text: string) => text.normalize('NFC').toLowerCase();

/** The services that `text` names, optionally on `port`. */
export function matchServices(
  text: string,
  services: readonly DiscoveredService[],
  port: number | null = null,
): DiscoveredService[] {
  const wanted = fold(text);
  const asLabel = fold(instanceLabel(text, text));
  const asHost = wanted.endsWith('.local') ? wanted : `${wanted}.local`;
  return services.filter((s) => {
    if (port !== null && s.port !== port) return false;

    const name = fold(s.name);
    return name === wanted || name === asLabel || fold(s.host) === asHost;
  });
}

/** Thrown when a name matches more than one daemon. */
export class AmbiguousNameError extends Error {
  override readonly name = 'AmbiguousNameError';
}

/**
 * Browses until a daemon named `text` answers (or the timeout); null when none did. Two
 * daemons behind one host name need the port (`HOST:PORT`) or their friendly names.
 */
export async function lookupService(
  text: string,
  port: number | null,
  options: { timeoutMs: number; logger: Logger },
): Promise<DiscoveredService | null> {
  const found = await discover({
    ...options,
    until: (services) => matchServices(text, services, port).length > 0,
  });
  const matches = matchServices(text, found, port);
  if (matches.length > 1) {
    const list = matches.map((s) => `"${s.name}" (${s.host}:${s.port})`).join(', ');
    throw new AmbiguousNameError(`${text} names more than one sksd: ${list}; give one of those`);
  }
  return matches[0] ?? null;
}
