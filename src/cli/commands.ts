/**
 * The client commands. Each opens a session, makes one or two calls and prints the result: a
 * table or a line for people, JSON with --json for scripts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Methods, type ConnectionInfo } from '../rpc/methods.js';
import type { RpcClient } from '../rpc/client.js';
import { openConnection, openSession, type ClientOptions } from './session.js';

/** Prints to stdout; the one place client commands write results. */
function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function using<T>(client: RpcClient, work: (c: RpcClient) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** `sksd info HOST[:PORT]`: what the daemon is, no login needed. */
export async function infoCommand(options: ClientOptions & { json?: boolean }): Promise<void> {
  const { client } = await openConnection(options);
  const info = await using(client, (c) => c.call(Methods.info));
  if (options.json) return print(JSON.stringify({ ...info, fingerprint: client.fingerprint }, null, 2));

  print(`${info.name} (${info.host}): sksd ${info.version}, protocol ${info.protocol}, ${info.state}`);
  print(`certificate SHA-256 ${client.fingerprint}`);
}

/** `sksd login`: authenticate once and keep the token for later commands. */
export async function loginCommand(options: ClientOptions): Promise<void> {
  const client = await openSession(options);
  await client.close();
  print('logged in; the session token is kept in ~/.config/sksd/sessions.json');
}

/** `sksd envs`: the user's conda environments and their spyder-kernels. */
export async function envsCommand(options: ClientOptions & { json?: boolean }): Promise<void> {
  const { envs } = await using(await openSession(options), (c) => c.call(Methods.envsList));
  if (options.json) return print(JSON.stringify(envs, null, 2));

  const rows = envs.map((e) => [e.name, e.spyderKernels.version ?? '-', e.prefix]);
  print(table(['ENV', 'SPYDER-KERNELS', 'PREFIX'], rows));
}

/** `sksd kernel start`: start a kernel and write its connection file for Spyder or Jupyter. */
export async function kernelStartCommand(
  options: ClientOptions & { env: string; cwd?: string; out?: string; json?: boolean },
): Promise<void> {
  const params = { env: options.env, ...(options.cwd ? { cwd: options.cwd } : {}) };
  const started = await using(await openSession(options), (c) => c.call(Methods.kernelsStart, params));
  const file = resolve(options.out ?? defaultConnectionPath(started.id));
  await writeConnectionFile(file, started.connection);

  if (options.json) return print(JSON.stringify({ id: started.id, env: started.env, file }, null, 2));
  print(`kernel ${started.id} started in ${started.env}`);
  print(`connection file: ${file}`);
  print(`  Spyder: Consoles > Connect to an existing kernel > ${file}`);
  print(`  Terminal: jupyter console --existing ${file}`);
}

/** `sksd kernel list`: the user's kernels on that daemon. */
export async function kernelListCommand(options: ClientOptions & { json?: boolean }): Promise<void> {
  const { kernels } = await using(await openSession(options), (c) => c.call(Methods.kernelsList));
  if (options.json) return print(JSON.stringify(kernels, null, 2));

  const rows = kernels.map((k) => [k.id, k.env, k.state, String(k.pid ?? '-'), k.startedAt]);
  print(table(['ID', 'ENV', 'STATE', 'PID', 'STARTED'], rows));
}

/** `sksd kernel stop ID`: stop one of the user's kernels. */
export async function kernelStopCommand(options: ClientOptions & { id: string }): Promise<void> {
  const params = { id: options.id };
  const result = await using(await openSession(options), (c) => c.call(Methods.kernelsShutdown, params));
  print(`kernel ${result.id} stopped (${result.outcome})`);
}

/** Jupyter's runtime directory, where `jupyter console --existing NAME` looks for bare names. */
function defaultConnectionPath(id: string): string {
  const runtime = process.env['JUPYTER_RUNTIME_DIR'] || join(homedir(), '.local/share/jupyter/runtime');
  return join(runtime, `kernel-sksd-${id}.json`);
}

async function writeConnectionFile(file: string, connection: ConnectionInfo): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // The key in it lets anyone who reads the file run code as the user: owner-only.
  await writeFile(file, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
}

function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}
