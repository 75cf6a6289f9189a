/**
 * Whether avahi-daemon runs on this host, so the log can say how the two share UDP 5353. Both
 * bind it with SO_REUSEADDR and each answers for its own records; what they cannot share is a
 * unicast reply sent to port 5353, which the kernel hands to one socket only
 * (homebridge-config-ui-x#2748). An avahi backend behind the same Announcer interface would let
 * avahi own the port alone.
 */
import { readFile } from 'node:fs/promises';

const PID_FILE = '/run/avahi-daemon/pid';

/** The pid of a running avahi-daemon, or null. */
export async function runningAvahi(pidFile = PID_FILE): Promise<number | null> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;

  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else (a daemon not running as root).
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** The log line for a host where avahi-daemon runs next to sksd's own responder. */
export const AVAHI_COEXISTENCE =
  'avahi-daemon is running: sksd answers for its own _sksd._tcp records on UDP 5353 next to it ' +
  '(both bind it with SO_REUSEADDR; the address records sksd sends for HOST.local are the ones ' +
  'avahi sends under the same host name). Multicast reaches both; a unicast answer to port ' +
  '5353 reaches only one, so a legacy one-shot query may miss one of them. Set ' +
  'mdns.enabled: false if avahi misbehaves.';
