/**
 * Ports for kernels from a configured range (kernels.portRange), so a firewall can open exactly
 * that range. Only the five connection-file ports come from it: a spyder-kernels 2.x kernel also
 * binds a comm socket on its address and ipykernel an output pipe on 127.0.0.1, both on ports the
 * OS picks from net.ipv4.ip_local_port_range, which no kernel option changes (FIELD-NOTES.md;
 * docs/operations.md says what that means for a firewall).
 */
import { createServer, type Server } from 'node:net';
import { SksdError } from '../rpc/errors.js';

/** An inclusive range of TCP ports, first <= last, validated by the config schema. */
export interface PortRange {
  readonly first: number;
  readonly last: number;
}

/** Ports a range must hold per kernel: the five of its connection file. */
export const PORTS_PER_KERNEL = 5;

/**
 * A port handed out this recently is never handed out again: its kernel is between allocation
 * and registration (milliseconds), when the manager does not know its ports yet.
 */
const IN_FLIGHT_MS = 5_000;

/** Where the next search starts, so consecutive kernels spread over the range. */
let cursor = 0;

/** How many kernels the range holds at once. */
export function kernelCapacity(range: PortRange): number {
  return Math.floor((range.last - range.first + 1) / PORTS_PER_KERNEL);
}

/** Binds ip:port exclusively; null when something holds it. */
async function tryBind(ip: string, port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ host: ip, port, exclusive: true }, () => resolve(server));
  });
}

/**
 * The range's ports in the order to try them: never busy ones (held by known kernels) or those
 * handed out in the last IN_FLIGHT_MS; first the ones not handed out recently, from the cursor
 * on; then the recently handed out, oldest first, so a stopped kernel's ports are reused last.
 */
function candidates(
  range: PortRange,
  busy: ReadonlySet<number>,
  recent: ReadonlyMap<number, number>,
  now: number,
): number[] {
  const size = range.last - range.first + 1;
  const fresh: number[] = [];
  const used: number[] = [];
  for (let i = 0; i < size; i++) {
    const port = range.first + ((cursor + i) % size);
    const at = recent.get(port);
    if (busy.has(port) || (at !== undefined && now - at < IN_FLIGHT_MS)) continue;
    if (at === undefined) fresh.push(port);
    else used.push(port);
  }

  used.sort((a, b) => (recent.get(a) as number) - (recent.get(b) as number));
  return [...fresh, ...used];
}

/**
 * Picks `count` ports of the range that ip:port can bind now, holding each until all are found.
 * A range without enough is the kernel limit it sets: limit_reached with data.scope "ports".
 */
export async function allocateInRange(
  ip: string,
  count: number,
  range: PortRange,
  busy: ReadonlySet<number>,
  recent: ReadonlyMap<number, number>,
): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (const port of candidates(range, busy, recent, Date.now())) {
      const server = await tryBind(ip, port);
      if (server === null) continue;
      servers.push(server);
      ports.push(port);
      if (ports.length === count) break;
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }

  const { first, last } = range;
  if (ports.length < count) {
    throw new SksdError('limit_reached', {
      message: `No ${count} free ports left in kernels.portRange ${first}-${last}`,
      data: { scope: 'ports', limit: kernelCapacity(range), first, last },
      logDetail: `${ip}: ${ports.length} of ${first}-${last} free beyond ${busy.size} held`,
    });
  }
  cursor = ((ports.at(-1) as number) - first + 1) % (last - first + 1);
  return ports;
}
