/**
 * The argv of every administrative conda command, in one place. Values that came from a client
 * are attached to their option (`--prefix=P`, `--channel=C`, `--clone=P`) so argparse cannot read
 * them as options of their own, and package specs follow `--`, which ends conda's options; they
 * were validated not to start with "-" as well. conda and mamba share this CLI; micromamba takes
 * the same create/install/remove/update/list flags but has no --clone and another config command,
 * so those are refused for it (conda_unsupported) rather than guessed.
 */
import { SksdError } from '../rpc/errors.js';
import type { CondaExecutable } from './locate.js';

/** Channels for a solve: added ahead of the configured ones, or (override) the only ones. */
export interface ChannelChoice {
  readonly channels: readonly string[];
  readonly override: boolean;
}

const NO_CHANNELS: ChannelChoice = { channels: [], override: false };

function channelArgs(choice: ChannelChoice): string[] {
  const args = choice.channels.map((c) => `--channel=${c}`);
  return choice.override ? ['--override-channels', ...args] : args;
}

// Every change runs without a prompt, answers in JSON and names its prefix in one argument.
function changeHead(conda: CondaExecutable, command: string, prefix: string): string[] {
  return [conda.path, command, '--yes', '--json', `--prefix=${prefix}`];
}

function namesOrAll(head: string[], names: readonly string[] | 'all'): string[] {
  return names === 'all' ? [...head, '--all'] : [...head, '--', ...names];
}

function unsupported(conda: CondaExecutable, what: string): SksdError {
  return new SksdError('conda_unsupported', {
    data: { flavour: conda.flavour, what },
    logDetail: `${conda.path} (${conda.flavour}) cannot ${what}`,
  });
}

/** conda create --prefix=P -- SPECS. */
export function createArgv(
  conda: CondaExecutable,
  prefix: string,
  specs: readonly string[],
  choice: ChannelChoice = NO_CHANNELS,
): string[] {
  const base = [...changeHead(conda, 'create', prefix), ...channelArgs(choice)];
  return specs.length === 0 ? base : [...base, '--', ...specs];
}

/** conda create --prefix=P --clone=SOURCE. */
export function cloneArgv(conda: CondaExecutable, prefix: string, source: string): string[] {
  if (conda.flavour === 'micromamba') throw unsupported(conda, 'clone an environment');
  return [...changeHead(conda, 'create', prefix), `--clone=${source}`];
}

/** conda install --prefix=P -- SPECS. */
export function installArgv(
  conda: CondaExecutable,
  prefix: string,
  specs: readonly string[],
  choice: ChannelChoice = NO_CHANNELS,
): string[] {
  return [...changeHead(conda, 'install', prefix), ...channelArgs(choice), '--', ...specs];
}

/** conda update --prefix=P -- NAMES, or --all. */
export function updateArgv(
  conda: CondaExecutable,
  prefix: string,
  names: readonly string[] | 'all',
  choice: ChannelChoice = NO_CHANNELS,
): string[] {
  return namesOrAll([...changeHead(conda, 'update', prefix), ...channelArgs(choice)], names);
}

/** conda remove --prefix=P -- NAMES, or the whole environment with --all. */
export function removeArgv(
  conda: CondaExecutable,
  prefix: string,
  names: readonly string[] | 'all',
) {
  return namesOrAll(changeHead(conda, 'remove', prefix), names);
}

/** conda list --json --prefix=P. */
export function listArgv(conda: CondaExecutable, prefix: string): string[] {
  return [conda.path, 'list', '--json', `--prefix=${prefix}`];
}

/** conda config --json with operations on the user's own ~/.condarc. */
export function configArgv(conda: CondaExecutable, ...ops: readonly string[][]): string[] {
  if (conda.flavour === 'micromamba') throw unsupported(conda, 'edit channels with conda config');
  return [conda.path, 'config', '--json', ...ops.flat()];
}

/** `--get channels`: the channels of the user's own .condarc (conda reads only that file). */
export const GET_CHANNELS = ['--get', 'channels'];
/** `--show channels`: the channels conda actually uses, every config file merged. */
export const SHOW_CHANNELS = ['--show', 'channels'];
