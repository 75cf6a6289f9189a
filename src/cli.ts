#!/usr/bin/env node
/**
 * The sksd command line: `sksd serve` runs the daemon; the other commands are clients of a daemon
 * on this or another host.
 */
import { Command } from 'commander';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig } from './config/load.js';
import { RpcConnectionError, RpcError } from './rpc/client.js';
import * as client from './cli/commands.js';
import { discoverCommand } from './cli/discover.js';
import { addEnvCommands } from './cli/env-commands.js';
import { addKernelCommands } from './cli/kernel-commands.js';
import { serve } from './cli/serve.js';
import { VERSION } from './version.js';

const program = new Command('sksd')
  .description('Spyder Kernel Spinner Daemon: Spyder kernels on remote Linux hosts')
  .version(VERSION);

program
  .command('serve')
  .description('run the daemon in the foreground (logs JSON to stdout)')
  .option('-c, --config <file>', `configuration file (default ${DEFAULT_CONFIG_FILE} if present)`)
  .action(async (opts: { config?: string }) => {
    process.exitCode = await serve(opts);
  });

const config = program.command('config').description('configuration tools');
config
  .command('check')
  .argument('[file]', `file to check (default ${DEFAULT_CONFIG_FILE})`)
  .description('validate a configuration file without starting anything')
  .action(async (file: string | undefined) => {
    try {
      const { source } = await loadConfig(file);
      const what = source ?? `no ${DEFAULT_CONFIG_FILE}; the defaults apply`;
      process.stdout.write(`${source === null ? what : `${what}: OK`}\n`);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 78;
    }
  });

/** Options shared by every client command. */
function clientCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option(
      '-H, --host <host[:port]>',
      'daemon to use: HOST[:PORT], or a name `sksd discover` lists (then no port is needed)',
      'localhost',
    )
    .option('-u, --user <name>', 'Unix user to log in as (default: you)')
    .option('--ca <file>', 'verify the daemon with this CA certificate instead of pinning')
    .option('--accept-new', 'trust a daemon seen for the first time without asking')
    .option('--json', 'print JSON');
}

program.addCommand(
  clientCommand('info', 'show a daemon (no login needed)')
    .argument('[host]', 'HOST[:PORT] or a discovered name, same as --host')
    .action((host: string | undefined, opts) =>
      client.infoCommand({ ...opts, host: host ?? opts.host }),
    ),
);
program.addCommand(
  clientCommand('login', 'log in and keep a session token').action(client.loginCommand),
);
program.addCommand(
  clientCommand('envs', 'list your conda environments').action(client.envsCommand),
);
addEnvCommands(program, clientCommand);

program
  .command('discover')
  .description('list every sksd announced on the local network (mDNS)')
  .option('-t, --timeout <seconds>', 'how long to listen for answers', '3')
  .option('--json', 'print JSON')
  .action(discoverCommand);

addKernelCommands(program, clientCommand);

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`sksd: ${describe(error)}\n`);
}

function describe(error: unknown): string {
  if (error instanceof RpcError) {
    const { stderrTail, message: conda, name: _name, ...rest } = error.data ?? {};
    // The remaining data fields say which limit, scope or series: worth a line to the user.
    const facts = Object.entries(rest).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
    let text = `${error.message} [${error.errorName ?? error.code}]`;
    if (facts.length > 0) text += ` (${facts.join(', ')})`;
    if (typeof stderrTail === 'string' && stderrTail !== '')
      text += `\n--- kernel output ---\n${stderrTail}`;
    if (typeof conda === 'string' && conda !== '') text += `\n--- conda ---\n${conda}`;
    return text;
  }
  if (error instanceof RpcConnectionError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
