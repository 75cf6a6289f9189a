/**
 * The systemd notify protocol against a real unix datagram socket. systemd is not PID 1 on the
 * test machines, so a small Python receiver stands where systemd would: it binds the socket,
 * reads each datagram with the sender's credentials (SO_PASSCRED, as systemd does) and the
 * CLOCK_MONOTONIC time of arrival, and prints them as JSON lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SystemdNotifier, socketAddress } from '../../src/daemon/notify.js';
import { removeDaemonDirs, startDaemon } from '../helpers/daemon.js';

const RECEIVER = `
import json, socket, sys, time
target = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + target[1:] if target.startswith("@") else target)
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = next((int.from_bytes(d[:4], "little") for level, kind, d in anc
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), None)
    print(json.dumps({"pid": pid, "text": data.decode(), "at": time.monotonic()}), flush=True)
`;

/** One datagram as systemd would see it. */
interface Datagram {
  pid: number | null;
  fields: Record<string, string>;
  /** CLOCK_MONOTONIC seconds at arrival. */
  at: number;
}

/** A stand-in for systemd's notify socket. */
class Receiver {
  readonly received: Datagram[] = [];
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async listen(target: string): Promise<Receiver> {
    const child = spawn('/usr/bin/python3', ['-c', RECEIVER, target], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const receiver = new Receiver(child);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        const message = JSON.parse(line) as {
          ready?: true;
          pid: number | null;
          text: string;
          at: number;
        };
        if (message.ready) return resolve();
        const fields = Object.fromEntries(
          message.text.split('\n').map((f) => f.split(/=(.*)/s, 2)),
        );
        receiver.received.push({ pid: message.pid, fields, at: message.at });
      });
    });
    return receiver;
  }

  async next(key: string, after = 0): Promise<Datagram> {
    await expect.poll(() => this.received.slice(after).some((d) => key in d.fields)).toBe(true);
    return this.received.slice(after).find((d) => key in d.fields) as Datagram;
  }

  close(): void {
    this.#child.kill();
  }
}

const dir = mkdtempSync('/tmp/sksd-notify-');
const receivers: Receiver[] = [];
const quiet = pino({ level: 'silent' });

afterEach(() => receivers.splice(0).forEach((r) => r.close()));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeDaemonDirs();
});

describe('socketAddress', () => {
  it('builds sockaddr_un for a path and for the abstract namespace', () => {
    expect(socketAddress('/run/systemd/notify')?.toString('latin1')).toBe(
      '\x01\x00/run/systemd/notify\0',
    );
    expect(socketAddress('@sd')?.toString('latin1')).toBe('\x01\x00\0sd');
  });

  it('refuses what is not a unix socket, or too long', () => {
    expect(socketAddress('vsock:2:1234')).toBeNull();
    expect(socketAddress('relative/path')).toBeNull();
    expect(socketAddress(`/${'x'.repeat(107)}`)).toBeNull();
    expect(socketAddress(`/${'x'.repeat(106)}`)).not.toBeNull();
  });
});

describe('SystemdNotifier', () => {
  it('sends READY=1 and a status from this process, to a path', async () => {
    const path = join(dir, 'notify');
    const receiver = await Receiver.listen(path);
    receivers.push(receiver);

    const notifier = new SystemdNotifier(quiet, { NOTIFY_SOCKET: path });
    expect(notifier.ready('serving on\nport 1')).toBe(true);
    const got = await receiver.next('READY');
    expect(got).toMatchObject({
      pid: process.pid,
      fields: { READY: '1', STATUS: 'serving on port 1' },
    });
  });

  it('sends to an abstract socket, with a monotonic time for RELOADING=1', async () => {
    const name = `@sksd-test-${randomBytes(4).toString('hex')}`;
    const receiver = await Receiver.listen(name);
    receivers.push(receiver);

    new SystemdNotifier(quiet, { NOTIFY_SOCKET: name }).reloading();
    const got = await receiver.next('RELOADING');
    const sentAt = Number(got.fields['MONOTONIC_USEC']) / 1e6;
    expect(got.at - sentAt).toBeGreaterThanOrEqual(0);
    expect(got.at - sentAt).toBeLessThan(5);
  });

  it('does nothing without NOTIFY_SOCKET, and reports a socket nobody listens on', () => {
    expect(new SystemdNotifier(quiet, {}).ready('x')).toBe(false);
    const notifier = new SystemdNotifier(quiet, { NOTIFY_SOCKET: join(dir, 'nobody') });
    expect(notifier.enabled).toBe(true);
    expect(notifier.ready('x')).toBe(false);
  });
});

describe('sksd serve under a notify socket', () => {
  it('reports ready when serving, reloading around SIGHUP, stopping with a deadline', async () => {
    const path = join(dir, 'daemon-notify');
    const receiver = await Receiver.listen(path);
    receivers.push(receiver);

    const daemon = await startDaemon({ kernels: { shutdownGrace: 20 } }, { NOTIFY_SOCKET: path });
    const ready = await receiver.next('READY');
    // From the main process (NotifyAccess=main), naming the port that clients can reach.
    expect(ready.pid).toBe(daemon.process.pid);
    expect(ready.fields['STATUS']).toContain(`127.0.0.1:${daemon.port}`);

    const count = receiver.received.length;
    daemon.process.kill('SIGHUP');
    const reloading = await receiver.next('RELOADING', count);
    const readyAgain = await receiver.next('READY', receiver.received.indexOf(reloading));
    expect(readyAgain.fields['STATUS']).toBe(ready.fields['STATUS']);

    expect(await daemon.stop()).toBe(0);
    const stopping = await receiver.next('STOPPING');
    // 2 x shutdownGrace + 15 s of its own deadline, and 5 s to exit: 60 s.
    expect(stopping.fields['EXTEND_TIMEOUT_USEC']).toBe('60000000');
  });
});
