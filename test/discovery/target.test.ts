/**
 * Names for --host and the pin on first contact: a friendly name or host name found by mDNS
 * becomes a target with the announced fingerprint; that fingerprint is pinned only after a real
 * TLS handshake shows the same certificate, and a mismatch is refused with nothing pinned.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { resolveTarget, type ServiceLookup } from '../../src/cli/target.js';
import type { DiscoveredService } from '../../src/discovery/browser.js';
import { matchServices } from '../../src/discovery/lookup.js';
import { connect } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { AnnouncedMismatchError, KnownHosts, trustAnnounced } from '../../src/rpc/trust.js';
import { fingerprintOf } from '../../src/tls/fingerprint.js';
import { removeTempDirs, startServer, tempDir } from '../helpers/tls.js';
import { fakeHandlers } from '../rpc/fake-handlers.js';

const FP = 'AB:'.repeat(31) + 'AB';
const service = (over: Partial<DiscoveredService> = {}): DiscoveredService => ({
  name: 'Lab: GPU box',
  host: 'node1.local',
  addresses: ['10.0.0.5'],
  port: 7000,
  txt: { protocol: 1, version: '0.1.0', state: 'idle', kernels: 0, limit: 64, fingerprint: FP },
  interfaces: ['eth0'],
  ...over,
});
const noLocal = async () => null;

afterAll(removeTempDirs);

describe('resolveTarget with mDNS names', () => {
  it('finds a friendly name (colon and all) and keeps the announced fingerprint', async () => {
    const lookup = vi.fn<ServiceLookup>(async () => service());
    const target = await resolveTarget('Lab: GPU box', noLocal, lookup);
    expect(lookup).toHaveBeenCalledWith('Lab: GPU box', null);
    expect(target).toEqual({
      host: 'node1.local',
      port: 7000,
      connectHost: '10.0.0.5',
      localFingerprint: null,
      announcedFingerprint: FP,
    });
  });

  it('goes straight to an address with a port, without browsing', async () => {
    const lookup = vi.fn<ServiceLookup>(async () => service());
    const target = await resolveTarget('10.1.2.3:7001', noLocal, lookup);
    expect(lookup).not.toHaveBeenCalled();
    expect(target).toMatchObject({
      host: '10.1.2.3',
      connectHost: '10.1.2.3',
      port: 7001,
      announcedFingerprint: null,
    });
  });

  it('browses for a HOST:PORT that DNS does not know, and says how to find names', async () => {
    const lookup = vi.fn<ServiceLookup>(async () => null);
    const target = await resolveTarget('gpu-box.invalid:7002', noLocal, lookup);
    expect(lookup).toHaveBeenCalledWith('gpu-box.invalid', 7002);
    expect(target.connectHost).toBe('gpu-box.invalid');
    await expect(resolveTarget('nobody', noLocal, lookup)).rejects.toThrow(/sksd discover/);
  });

  it('matches a friendly name in any case, uncut or cut, or the host name', () => {
    const long = 'Ünïcødé-Rechner für Spyder: Grüße aus dem Labor 🧑‍🔬🧑‍🔬 mit sehr langem Namen';
    const cut = service({ name: 'Ünïcødé-Rechner für Spyder: Grüße aus dem Labor' });
    expect(matchServices(long, [cut])).toEqual([cut]);
    expect(matchServices('lab: gpu BOX', [service()])).toHaveLength(1);
    expect(matchServices('node1', [service()])).toHaveLength(1);
    expect(matchServices('node1.local', [service()], 7001)).toHaveLength(0);
  });
});

describe('trustAnnounced (first contact with a daemon found by mDNS)', () => {
  it('pins the fingerprint once the handshake shows the announced certificate', async () => {
    const server = await startServer({ handlers: fakeHandlers() });
    const file = path.join(tempDir('announced'), 'known_hosts.json');
    const store = await KnownHosts.open(file);
    const announced = fingerprintOf(server.cert);

    const client = await connect({
      host: '127.0.0.1',
      port: server.port,
      ...trustAnnounced(store, 'node1.local', server.port, announced),
    });
    expect((await client.call(Methods.info)).protocol).toBe(1);
    await client.close();
    expect((await KnownHosts.open(file)).get('node1.local', server.port)).toBe(announced);
    await server.server.close();
  });

  it('refuses loudly when the handshake shows another certificate, and pins nothing', async () => {
    const server = await startServer({ handlers: fakeHandlers() });
    const file = path.join(tempDir('announced'), 'known_hosts.json');
    const store = await KnownHosts.open(file);

    const attempt = connect({
      host: '127.0.0.1',
      port: server.port,
      ...trustAnnounced(store, 'node1.local', server.port, FP),
    });
    await expect(attempt).rejects.toThrow(AnnouncedMismatchError);
    await expect(attempt).rejects.toThrow(
      /not the one its mDNS announcement names!\n {2}announced: AB:AB/,
    );
    expect(existsSync(file)).toBe(false);
    // Refused before anything was sent: the server saw no request.
    expect(server.log()).not.toMatch(/sksd\.info/);
    await server.server.close();
  });
});
