// An impostor announcement for the pinning test: sksd's own announcer (from dist/) naming a real
// daemon's port with a fingerprint that daemon does not have, as a wrong or spoofed TXT would.
// Usage: node impostor.mjs INTERFACE NAME PORT FINGERPRINT; announces until stdin closes.
import { pino } from 'pino';
import { BonjourAnnouncer } from '../../dist/discovery/bonjour.js';
import { hostLabel } from '../../dist/discovery/names.js';
import { buildTxt } from '../../dist/discovery/txt.js';
import { hostname } from 'node:os';

const [iface, name, port, fingerprint] = process.argv.slice(2);
const announcer = new BonjourAnnouncer({
  interfaces: [iface],
  listenAddress: '0.0.0.0',
  logger: pino({ level: 'silent' }),
});
const txt = buildTxt({
  protocol: 1,
  version: '0.1.0',
  state: 'idle',
  kernels: 0,
  limit: 1,
  fingerprint,
});
await announcer.start({ instance: name, host: hostLabel(hostname()), port: Number(port), txt });
process.stdout.write('announced\n');

process.stdin.resume();
const stop = () => announcer.stop().then(() => process.exit(0));
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
