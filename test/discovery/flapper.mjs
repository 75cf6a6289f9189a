// Rapid TXT updates for the no-revert test: sksd's own announcer (from dist/) announces version
// v1, then v2, v3, v4 every 300 ms, faster than its one-second repeat of each announcement.
// Usage: node flapper.mjs INTERFACE NAME; prints "done" after the last update, stops on stdin end.
import { hostname } from 'node:os';
import { pino } from 'pino';
import { BonjourAnnouncer } from '../../dist/discovery/bonjour.js';
import { hostLabel } from '../../dist/discovery/names.js';
import { buildTxt } from '../../dist/discovery/txt.js';

const [iface, name] = process.argv.slice(2);
const FP = 'AB:'.repeat(31) + 'AB';
const txt = (version) =>
  buildTxt({ protocol: 1, version, state: 'idle', kernels: 0, limit: 1, fingerprint: FP });
const announcer = new BonjourAnnouncer({
  interfaces: [iface],
  listenAddress: '0.0.0.0',
  logger: pino({ level: 'silent' }),
});
await announcer.start({ instance: name, host: hostLabel(hostname()), port: 9, txt: txt('v1') });
for (const version of ['v2', 'v3', 'v4']) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await announcer.update(txt(version));
}
process.stdout.write('done\n');

process.stdin.resume();
const stop = () => announcer.stop().then(() => process.exit(0));
process.stdin.on('end', stop);
process.on('SIGTERM', stop);
