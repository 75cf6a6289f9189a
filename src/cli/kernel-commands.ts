/**
 * `sksd kernel start|list|stop|interrupt|restart`. Spyder cannot interrupt or restart a kernel it
 * did not start (spyder-ide/spyder#15556), so these commands are how a user does that for a
 * kernel sksd started; a restart keeps the connection file, so the open console carries on.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Methods, type ConnectionInfo, type KernelSummary } from '../rpc/methods.js';
import { print, table, using } from './commands.js';
import { openSession, type ClientOptions } from './session.js';

type Options = ClientOptions & { json?: boolean };
type Factory = (name: string, description: string) => Command;

/** `sksd kernel start`: start a kernel and write its connection file for Spyder or Jupyter. */
export async function kernelStartCommand(
  options: Options & { env: string; cwd?: string; out?: string; spyder?: string },
): Promise<void> {
  const params = {
    env: options.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.spyder ? { spyder: options.spyder } : {}),
  };
  const started = await using(await openSession(options), (c) =>
    c.call(Methods.kernelsStart, params),
  );
  const file = resolve(options.out ?? defaultConnectionPath(started.id));
  await writeConnectionFile(file, started.connection);

  if (options.json) {
    const { id, env, spyderKernels } = started;
    return print(JSON.stringify({ id, env, spyderKernels, file }, null, 2));
  }
  const version = started.spyderKernels ?? 'unknown';
  print(`kernel ${started.id} started in ${started.env} (spyder-kernels ${version})`);
  print(`connection file: ${file}`);
  print(`  Spyder: Consoles > Connect to an existing kernel > ${file}`);
  print(`  Terminal: jupyter console --existing ${file}`);
}

/** How a dead kernel ended, in a few words. */
function ending(kernel: KernelSummary): string {
  const exit = kernel.exit;
  if (exit === null) return '';
  const how =
    exit.signal !== null
      ? `signal ${exit.signal}`
      : exit.exitCode !== null
        ? `code ${exit.exitCode}`
        : '';
  return how === '' ? exit.reason : `${exit.reason}, ${how}`;
}

/** `sksd kernel list`: the user's kernels on that daemon, recently dead ones with their end. */
export async function kernelListCommand(options: Options): Promise<void> {
  const { kernels } = await using(await openSession(options), (c) => c.call(Methods.kernelsList));
  if (options.json) return print(JSON.stringify(kernels, null, 2));

  const rows = kernels.map((k) => [
    k.id,
    k.env,
    k.state === 'dead' ? `dead (${ending(k)})` : k.state,
    String(k.kernelPid ?? k.pid ?? '-'),
    String(k.restarts),
    k.startedAt,
  ]);
  print(table(['ID', 'ENV', 'STATE', 'PID', 'RESTARTS', 'STARTED'], rows));
}

/** `sksd kernel stop ID`: stop one of the user's kernels (or forget a dead one). */
export async function kernelStopCommand(options: Options & { id: string }): Promise<void> {
  const params = { id: options.id };
  const result = await using(await openSession(options), (c) =>
    c.call(Methods.kernelsShutdown, params),
  );
  if (options.json) return print(JSON.stringify(result, null, 2));
  print(`kernel ${result.id} stopped (${result.outcome}, ${result.durationMs} ms)`);
}

/** `sksd kernel interrupt ID`: KeyboardInterrupt in the running code, like Ctrl-C. */
export async function kernelInterruptCommand(options: Options & { id: string }): Promise<void> {
  const params = { id: options.id };
  const result = await using(await openSession(options), (c) =>
    c.call(Methods.kernelsInterrupt, params),
  );
  if (options.json) return print(JSON.stringify(result, null, 2));
  print(`kernel ${result.id} interrupted (SIGINT to its python, pid ${result.pid})`);
}

/** `sksd kernel restart ID`: a fresh kernel on the same connection; variables are gone. */
export async function kernelRestartCommand(options: Options & { id: string }): Promise<void> {
  const params = { id: options.id };
  const result = await using(await openSession(options), (c) =>
    c.call(Methods.kernelsRestart, params),
  );
  if (options.json)
    return print(JSON.stringify({ id: result.id, restarts: result.restarts }, null, 2));
  print(
    `kernel ${result.id} restarted (restart ${result.restarts}); the connection file stays valid`,
  );
}

/** Jupyter's runtime directory, where `jupyter console --existing NAME` looks for bare names. */
function defaultConnectionPath(id: string): string {
  const runtime =
    process.env['JUPYTER_RUNTIME_DIR'] || join(homedir(), '.local/share/jupyter/runtime');
  return join(runtime, `kernel-sksd-${id}.json`);
}

async function writeConnectionFile(file: string, connection: ConnectionInfo): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // The key in it lets anyone who reads the file run code as the user: owner-only.
  await writeFile(file, `${JSON.stringify(connection, null, 2)}\n`, { mode: 0o600 });
}

/** Adds `sksd kernel ...` to the program. */
export function addKernelCommands(program: Command, clientCommand: Factory): void {
  const kernel = program
    .command('kernel')
    .description('start, list, interrupt, restart and stop your kernels');
  const byId = (
    name: string,
    description: string,
    action: (o: Options & { id: string }) => Promise<void>,
  ) =>
    clientCommand(name, description)
      .argument('<id>', 'kernel id (see `sksd kernel list`)')
      .action((id: string, opts: Options) => action({ ...opts, id }));

  kernel.addCommand(
    clientCommand('start', 'start a kernel and write its connection file')
      .requiredOption('-e, --env <env>', 'conda environment name or prefix')
      .option('--cwd <dir>', 'working directory (default: your home)')
      .option('-o, --out <file>', 'connection file (default: in the Jupyter runtime directory)')
      .option(
        '--spyder <version>',
        'your Spyder version: refuse an env with the wrong spyder-kernels',
      )
      .action(kernelStartCommand),
  );
  kernel.addCommand(clientCommand('list', 'list your kernels').action(kernelListCommand));
  kernel.addCommand(byId('stop', 'stop one of your kernels', kernelStopCommand));
  kernel.addCommand(
    byId(
      'interrupt',
      'interrupt the code a kernel runs (KeyboardInterrupt)',
      kernelInterruptCommand,
    ),
  );
  kernel.addCommand(
    byId('restart', 'restart a kernel on the same connection file', kernelRestartCommand),
  );
}
