/**
 * channels.list/add/remove/reorder: the caller's own channel list in ~/.condarc, changed only
 * through `conda config --json` run as the caller, never by editing the file here. conda config
 * has no reorder, but `--add channels X` moves an existing X to the top (with a warning), so
 * `--add` of the wanted list from last to first, in one conda process, writes exactly that order
 * in one write of the file. conda's own quirk is kept: adding to a .condarc without a channels
 * key starts the list from ["defaults"] (conda/cli/main_config.py).
 */
import { SksdError } from '../rpc/errors.js';
import * as argv from './argv.js';
import type { Caller, EnvAdmin } from './admin.js';
import { channelsOf } from './conda-json.js';
import { channelKey, validateChannel } from './specs.js';

/** The caller's own channels and the ones conda uses. */
export interface ChannelLists {
  channels: string[];
  effective: string[];
}

/** channels.list: `--get channels` (own .condarc) and `--show channels` (all merged). */
export async function listChannels(admin: EnvAdmin, caller: Caller): Promise<ChannelLists> {
  const conda = await admin.conda();
  const user = caller.account;
  const own = await admin.short(user, argv.configArgv(conda, argv.GET_CHANNELS), 'config --get');
  const shown = await admin.short(
    user,
    argv.configArgv(conda, argv.SHOW_CHANNELS),
    'config --show',
  );
  return { channels: channelsOf(own).own ?? [], effective: channelsOf(shown).shown ?? [] };
}

/** `--add channels X` for each, last first: the list ends up in the given order. */
function addsInOrder(channels: readonly string[]): string[][] {
  return [...channels].reverse().map((c) => ['--add', 'channels', c]);
}

/** Runs config operations on the caller's .condarc, one change per user at a time. */
async function edit(
  admin: EnvAdmin,
  caller: Caller,
  method: string,
  plan: (own: string[]) => string[][],
) {
  const conda = await admin.conda();
  const user = caller.account;
  const lock = `condarc:${user.uid}`;
  const request = {
    user,
    connectionId: caller.connectionId,
    method,
    env: '~/.condarc',
    locks: [lock],
  };
  await admin.operations.run(request, async () => {
    const own = (await listChannels(admin, caller)).channels;
    const ops = plan(own);
    if (ops.length > 0) await admin.short(user, argv.configArgv(conda, ...ops), method);
  });
  return listChannels(admin, caller);
}

/** channels.add: top (conda's --add), bottom (--append), or at an index of the own list. */
export function addChannel(
  admin: EnvAdmin,
  caller: Caller,
  params: { channel: string; position?: 'top' | 'bottom' | number },
): Promise<ChannelLists> {
  return admin.audited(caller, 'channels.add', async (trail) => {
    admin.policy.assertEnabled(caller.account, 'channels.add');
    const channel = validateChannel(params.channel);
    const position = params.position ?? 'top';
    trail.details = { channel, position };
    admin.policy.assertChannels([channel]);

    return edit(admin, caller, 'channels.add', (own) => {
      if (position === 'top') return [['--add', 'channels', channel]];
      if (position === 'bottom') return [['--append', 'channels', channel]];
      const rest = own.filter((c) => channelKey(c) !== channelKey(channel));
      rest.splice(Math.min(position, rest.length), 0, channel);
      return addsInOrder(rest);
    });
  });
}

/** channels.remove. */
export function removeChannel(admin: EnvAdmin, caller: Caller, params: { channel: string }) {
  return admin.audited(caller, 'channels.remove', async (trail) => {
    admin.policy.assertEnabled(caller.account, 'channels.remove');
    const channel = validateChannel(params.channel);
    trail.details = { channel };
    return edit(admin, caller, 'channels.remove', () => [['--remove', 'channels', channel]]);
  });
}

/** channels.reorder: the same channels as the own list, in a new order. */
export function reorderChannels(admin: EnvAdmin, caller: Caller, params: { channels: string[] }) {
  return admin.audited(caller, 'channels.reorder', async (trail) => {
    admin.policy.assertEnabled(caller.account, 'channels.reorder');
    const wanted = params.channels.map((c) => validateChannel(c, 'channels'));
    trail.details = { channels: wanted };

    return edit(admin, caller, 'channels.reorder', (own) => {
      const same = (a: readonly string[]) => a.map(channelKey).sort().join('\n');
      if (wanted.length !== own.length || same(wanted) !== same(own)) {
        throw new SksdError('invalid_params', {
          message: 'channels must list exactly your configured channels, in the new order',
          data: { channels: own },
        });
      }
      return addsInOrder(wanted);
    });
  });
}
