/**
 * The environment administration commands: `sksd env`, `sksd pkg`, `sksd channel`, `sksd op`.
 * A change shows conda's progress (a bar on a terminal, lines otherwise, on stderr) and Ctrl-C
 * cancels it through ops.cancel with an operation id the CLI chose, so the daemon stops conda and
 * the command ends with the `cancelled` error; a second Ctrl-C leaves at once.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { RpcClient } from '../rpc/client.js';
import { Methods } from '../rpc/methods.js';
import { OpsProgress, type ChangeResult } from '../rpc/methods-admin.js';
import { ProgressView } from './progress.js';
import { openSession, type ClientOptions } from './session.js';

type Options = ClientOptions & { json?: boolean };
type Factory = (name: string, description: string) => Command;

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function session<T>(options: Options, work: (c: RpcClient) => Promise<T>): Promise<T> {
  const client = await openSession(options);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Runs one change with progress and Ctrl-C as cancel. */
async function change<T>(
  options: Options,
  call: (c: RpcClient, op: string) => Promise<T>,
): Promise<T> {
  return session(options, async (client) => {
    const op = `cli-${randomBytes(9).toString('base64url')}`;
    const view = new ProgressView();
    const off = client.onNotification(OpsProgress, (p) => {
      if (p.op === op) view.update(p);
    });
    let cancelling = false;
    const onInterrupt = () => {
      if (cancelling) process.exit(130);
      cancelling = true;
      view.note('cancelling (Ctrl-C again to leave at once)');
      client.call(Methods.opsCancel, { op }).catch(() => undefined);
    };
    process.on('SIGINT', onInterrupt);
    try {
      return await call(client, op);
    } finally {
      process.off('SIGINT', onInterrupt);
      off();
      view.done();
    }
  });
}

function printChange(result: ChangeResult, options: Options, headline: string): void {
  if (options.json) return print(JSON.stringify(result, null, 2));

  print(`${headline}: ${result.env.name} (${result.env.prefix})`);
  for (const p of result.unlink) print(`  - ${p.name} ${p.version} ${p.build} (${p.channel})`);
  for (const p of result.link) print(`  + ${p.name} ${p.version} ${p.build} (${p.channel})`);
  if (result.message !== null) print(`  ${result.message}`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds `env`, `pkg`, `channel` and `op` to the program. */
export function addEnvCommands(program: Command, clientCommand: Factory): void {
  const env = program.command('env').description('create, clone and remove conda environments');
  env.addCommand(
    clientCommand('create', 'create an environment (in ~/.conda/envs, or shared with --shared)')
      .argument('<name>')
      .argument('[specs...]', 'packages to install, as conda match specs')
      .option('-c, --channel <channel>', 'channel to use (repeatable)', collect)
      .option('--python <version>', 'python version, e.g. 3.11')
      .option('--shared', 'create in the conda root prefix for everyone (admins)')
      .action(
        async (
          name: string,
          specs: string[],
          o: Options & { channel?: string[]; python?: string; shared?: boolean },
        ) => {
          const params = {
            name,
            packages: specs,
            channels: o.channel,
            python: o.python,
            shared: o.shared,
          };
          const result = await change(o, (c, op) => c.call(Methods.envsCreate, { ...params, op }));
          printChange(result, o, 'created');
        },
      ),
  );
  env.addCommand(
    clientCommand('remove', 'remove an environment and everything in it')
      .argument('<env>', 'name or prefix')
      .action(async (name: string, o: Options) => {
        const result = await change(o, (c, op) => c.call(Methods.envsRemove, { name, op }));
        printChange(result, o, 'removed');
      }),
  );
  env.addCommand(
    clientCommand('clone', 'copy an environment under a new name')
      .argument('<from>')
      .argument('<name>')
      .option('--shared', 'clone into the conda root prefix (admins)')
      .action(async (from: string, name: string, o: Options & { shared?: boolean }) => {
        const result = await change(o, (c, op) =>
          c.call(Methods.envsClone, { from, name, shared: o.shared, op }),
        );
        printChange(result, o, 'cloned');
      }),
  );
  env.addCommand(
    clientCommand('ensure-kernel', 'install the spyder-kernels series your Spyder needs')
      .argument('<env>')
      .option('--spyder <version>', 'your Spyder version, e.g. 6.0.3')
      .action(async (envName: string, o: Options & { spyder?: string }) => {
        const params = { env: envName, spyder: o.spyder };
        const result = await change(o, (c, op) =>
          c.call(Methods.envsEnsureKernel, { ...params, op }),
        );
        if (o.json) return print(JSON.stringify(result, null, 2));
        const was = result.before ?? 'none';
        print(
          result.changed
            ? `installed ${result.spec} (was ${was}, now ${result.after ?? 'none'})`
            : `spyder-kernels ${was} already fits`,
        );
      }),
  );

  addPackageCommands(program, clientCommand);
  addChannelCommands(program, clientCommand);
}

function addPackageCommands(program: Command, clientCommand: Factory): void {
  const pkg = program.command('pkg').description('list, install, remove and update packages');
  pkg.addCommand(
    clientCommand('list', 'list the packages of an environment')
      .argument('<env>')
      .action(async (envName: string, o: Options) => {
        const result = await session(o, (c) => c.call(Methods.packagesList, { env: envName }));
        if (o.json) return print(JSON.stringify(result, null, 2));
        for (const p of result.packages) print(`${p.name}  ${p.version}  ${p.build}  ${p.channel}`);
      }),
  );
  pkg.addCommand(
    clientCommand('install', 'install packages into an environment')
      .argument('<env>')
      .argument('<specs...>')
      .option('-c, --channel <channel>', 'channel to use (repeatable)', collect)
      .action(async (envName: string, specs: string[], o: Options & { channel?: string[] }) => {
        const params = { env: envName, specs, channels: o.channel };
        printChange(
          await change(o, (c, op) => c.call(Methods.packagesInstall, { ...params, op })),
          o,
          'installed',
        );
      }),
  );
  pkg.addCommand(
    clientCommand('remove', 'remove packages from an environment')
      .argument('<env>')
      .argument('<names...>')
      .action(async (envName: string, names: string[], o: Options) => {
        const params = { env: envName, names };
        printChange(
          await change(o, (c, op) => c.call(Methods.packagesRemove, { ...params, op })),
          o,
          'removed',
        );
      }),
  );
  pkg.addCommand(
    clientCommand('update', 'update the named packages, or all with --all')
      .argument('<env>')
      .argument('[names...]')
      .option('--all', 'update every package')
      .action(async (envName: string, names: string[], o: Options & { all?: boolean }) => {
        const which = o.all === true ? { all: true as const } : { names };
        const params = { env: envName, ...which };
        printChange(
          await change(o, (c, op) => c.call(Methods.packagesUpdate, { ...params, op })),
          o,
          'updated',
        );
      }),
  );
}

function addChannelCommands(program: Command, clientCommand: Factory): void {
  const show = (o: Options, lists: { channels: string[]; effective: string[] }) => {
    if (o.json) return print(JSON.stringify(lists, null, 2));
    print(
      `your channels (~/.condarc), highest priority first: ${lists.channels.join(', ') || '(none)'}`,
    );
    print(`channels conda uses: ${lists.effective.join(', ')}`);
  };
  const channel = program.command('channel').description('your conda channels (~/.condarc)');
  channel.addCommand(
    clientCommand('list', 'show your channels').action(async (o: Options) => {
      show(o, await session(o, (c) => c.call(Methods.channelsList)));
    }),
  );
  channel.addCommand(
    clientCommand('add', 'add a channel, by default with the highest priority')
      .argument('<channel>')
      .option('--bottom', 'add with the lowest priority')
      .option('--position <n>', 'add at this index (0 is the highest priority)')
      .action(async (name: string, o: Options & { bottom?: boolean; position?: string }) => {
        const position =
          o.position !== undefined ? Number(o.position) : o.bottom ? 'bottom' : 'top';
        show(o, await session(o, (c) => c.call(Methods.channelsAdd, { channel: name, position })));
      }),
  );
  channel.addCommand(
    clientCommand('remove', 'remove a channel')
      .argument('<channel>')
      .action(async (name: string, o: Options) => {
        show(o, await session(o, (c) => c.call(Methods.channelsRemove, { channel: name })));
      }),
  );
  channel.addCommand(
    clientCommand('reorder', 'give your channels a new order, highest priority first')
      .argument('<channels...>')
      .action(async (channels: string[], o: Options) => {
        show(o, await session(o, (c) => c.call(Methods.channelsReorder, { channels })));
      }),
  );

  const op = program.command('op').description('your running environment changes');
  op.addCommand(
    clientCommand('list', 'list running changes').action(async (o: Options) => {
      const { ops } = await session(o, (c) => c.call(Methods.opsList));
      if (o.json) return print(JSON.stringify(ops, null, 2));
      for (const x of ops) print(`${x.op}  ${x.method}  ${x.env}  ${x.phase}  ${x.startedAt}`);
    }),
  );
  op.addCommand(
    clientCommand('cancel', 'cancel a running change')
      .argument('<op>')
      .action(async (id: string, o: Options) => {
        await session(o, (c) => c.call(Methods.opsCancel, { op: id }));
        print(`cancelling ${id}`);
      }),
  );
}
