/**
 * The client commands. Each opens a session, makes one or two calls and prints the result: a
 * table or a line for people, JSON with --json for scripts.
 */
import { Methods } from '../rpc/methods.js';
import type { RpcClient } from '../rpc/client.js';
import { openConnection, openSession, type ClientOptions } from './session.js';

/** Prints to stdout; the one place client commands write results. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Runs work on a client and closes it whatever happens. */
export async function using<T>(client: RpcClient, work: (c: RpcClient) => Promise<T>): Promise<T> {
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
  if (options.json)
    return print(JSON.stringify({ ...info, fingerprint: client.fingerprint }, null, 2));

  print(
    `${info.name} (${info.host}): sksd ${info.version}, protocol ${info.protocol}, ${info.state}`,
  );
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

/** A plain text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
