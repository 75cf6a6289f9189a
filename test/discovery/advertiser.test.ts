/**
 * When the announcement changes: busy and idle only after they held for mdns.debounce, kernel
 * counts as they happen, never more than one TXT update a second, and nothing after stop. The
 * mDNS backend is a recording stand-in here; the real one is tested with real browsers in
 * announce.test.ts.
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { ActivityTracker } from '../../src/daemon/activity.js';
import type { Announcement, Announcer } from '../../src/discovery/announcer.js';
import { Advertiser } from '../../src/discovery/advertiser.js';
import { Settled } from '../../src/discovery/settle.js';
import type { TxtRecord } from '../../src/discovery/txt.js';
import type { KernelEvent } from '../../src/kernels/kernel.js';

const FP = 'AB:'.repeat(31) + 'AB';

/** Stand-in for the mDNS backend: records what it was asked to announce, and when. */
class RecordingAnnouncer implements Announcer {
  started: Announcement | null = null;
  updates: Array<{ at: number; txt: TxtRecord }> = [];
  stopped = false;
  readonly instance = null;

  async start(announcement: Announcement): Promise<void> {
    this.started = announcement;
  }

  async update(txt: TxtRecord): Promise<void> {
    this.updates.push({ at: Date.now(), txt });
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

describe('Settled', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('publishes a value that holds, and never a blip', () => {
    const seen: string[] = [];
    const settled = new Settled('idle', 1000, (v) => seen.push(v));
    settled.set('busy');
    vi.advanceTimersByTime(900);
    settled.set('idle');
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([]);

    settled.set('busy');
    vi.advanceTimersByTime(500);
    settled.set('busy'); // the same value again does not restart the clock
    vi.advanceTimersByTime(500);
    expect(seen).toEqual(['busy']);
    expect(settled.value).toBe('busy');
  });
});

describe('Advertiser', () => {
  let activity: ActivityTracker;
  let kernels: EventEmitter<{ state: [KernelEvent] }>;
  let announcer: RecordingAnnouncer;

  const advertiser = (debounce = 1) =>
    new Advertiser({
      config: { ...ConfigSchema.parse({}).mdns, debounce },
      name: 'GPU box',
      host: 'node1.example',
      fingerprint: FP,
      limit: 64,
      activity,
      kernels,
      logger: pino({ level: 'silent' }),
      announcer: () => announcer,
    });
  const kernel = (id: string, state: KernelEvent['state']) =>
    kernels.emit('state', { id, user: 'alice', env: 'base', state });
  /** A request that keeps the daemon busy until the returned function is called. */
  const busyFor = () => {
    let done: () => void = () => undefined;
    void activity.track(() => new Promise<void>((resolve) => (done = resolve)));
    return () => done();
  };

  beforeEach(() => {
    vi.useFakeTimers();
    activity = new ActivityTracker();
    kernels = new EventEmitter();
    announcer = new RecordingAnnouncer();
  });
  afterEach(() => void vi.useRealTimers());

  it('announces name, host, the real port and the facts', async () => {
    const a = advertiser();
    await a.start({ address: '0.0.0.0', port: 7123 });
    expect(announcer.started).toEqual({
      instance: 'GPU box',
      host: 'node1',
      port: 7123,
      txt: expect.objectContaining({ state: 'idle', kernels: '0', limit: '64', sha256: FP }),
    });
  });

  it('does not announce a request shorter than the debounce, announces a longer one', async () => {
    const a = advertiser(1);
    await a.start({ address: '0.0.0.0', port: 7000 });
    const done = busyFor();
    await vi.advanceTimersByTimeAsync(800);
    done();
    await vi.advanceTimersByTimeAsync(5000);
    expect(announcer.updates).toEqual([]);

    const t0 = Date.now();
    const finish = busyFor();
    await vi.advanceTimersByTimeAsync(3000);
    finish();
    await vi.advanceTimersByTimeAsync(3000);
    expect(announcer.updates.map((u) => [u.at - t0, u.txt['state']])).toEqual([
      [1000, 'busy'],
      [4000, 'idle'],
    ]);
  });

  it('counts kernels past starting, is busy while one starts, updates once a second', async () => {
    const a = advertiser(0);
    await a.start({ address: '0.0.0.0', port: 7000 });
    const t0 = Date.now();
    await vi.advanceTimersByTimeAsync(1000);
    kernel('k1', 'starting');
    await vi.advanceTimersByTimeAsync(100);
    kernel('k1', 'running');
    kernel('k1', 'busy'); // IOPub activity: no count change, no update
    await vi.advanceTimersByTimeAsync(2000);
    kernel('k1', 'dead');
    await vi.advanceTimersByTimeAsync(2000);

    const seen = announcer.updates.map((u) => [u.at - t0, u.txt['state'], u.txt['kernels']]);
    expect(seen).toEqual([
      [1000, 'busy', '0'],
      [2000, 'idle', '1'],
      [3100, 'idle', '0'],
    ]);
  });

  it('stops: goodbye through the backend, and no more updates', async () => {
    const a = advertiser(0);
    await a.start({ address: '0.0.0.0', port: 7000 });
    await a.stop();
    await a.stop();
    expect(announcer.stopped).toBe(true);
    kernel('k1', 'running');
    await vi.advanceTimersByTimeAsync(5000);
    expect(announcer.updates).toEqual([]);
    expect(activity.listenerCount('change')).toBe(0);
  });

  it('announces nothing when mdns.enabled is false', async () => {
    const a = new Advertiser({
      config: { enabled: false, interfaces: [], debounce: 1 },
      name: 'x',
      host: 'x',
      fingerprint: FP,
      limit: 1,
      activity,
      kernels,
      logger: pino({ level: 'silent' }),
      announcer: () => announcer,
    });
    await a.start({ address: '0.0.0.0', port: 7000 });
    expect(announcer.started).toBeNull();
    await a.stop();
  });
});
