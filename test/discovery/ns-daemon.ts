/**
 * The real daemon (`node dist/cli.js serve`) inside a test namespace, announcing on its veth
 * only. Found through its endpoint file, as test/helpers/daemon.ts finds one on loopback.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, waitForEndpoint } from '../helpers/daemon.js';
import { spawnIn, type NetSide } from '../helpers/netns.js';

/** A daemon running in a namespace. */
export interface NsDaemon {
  readonly port: number;
  readonly fingerprint: string;
  /** Date.now() when `sksd serve` was spawned. */
  readonly spawnedAt: number;
  logs(): string;
  /** Log lines as objects (the daemon logs JSON when not on a terminal). */
  lines(): Array<Record<string, unknown>>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const dirs = new Set<string>();

/** Starts `sksd serve` in the side's namespace with `config` over announce-on-the-veth defaults. */
export async function startDaemonIn(
  side: NetSide,
  config: Record<string, unknown> = {},
): Promise<NsDaemon> {
  // 0755 under /tmp: test users traverse it to reach their kernel directory.
  const dir = mkdtempSync('/tmp/sksdt-nsd-');
  chmodSync(dir, 0o755);
  dirs.add(dir);
  const runtime = join(dir, 'run');
  const { mdns, ...rest } = config;
  const merged = {
    listen: { address: '0.0.0.0', port: 0 },
    log: { level: 'debug' },
    ...rest,
    mdns: { interfaces: [side.veth], ...(mdns as object | undefined) },
    paths: { state: join(dir, 'state'), runtime },
  };
  const file = join(dir, 'sksd.conf');
  writeFileSync(file, `# -*- coding: utf-8 -*-\n${stringify(merged)}`);

  const spawnedAt = Date.now();
  const child = spawnIn(side.ns, [process.execPath, CLI, 'serve', '--config', file]);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const endpoint = await waitForEndpoint(join(runtime, 'sksd.json'), child, () => output);
  return {
    ...endpoint,
    spawnedAt,
    logs: () => output,
    lines: () =>
      output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Removes the daemons' directories. */
export function removeNsDaemonDirs(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
