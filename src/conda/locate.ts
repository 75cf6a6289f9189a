/**
 * Finds the conda executable. There is no conda package in Debian, so sksd drives whatever the
 * site installed: conda, mamba or micromamba, in this order of preference per place.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, delimiter, isAbsolute, join } from 'node:path';
import { SksdError } from '../rpc/errors.js';

/** Installation prefixes tried when neither the config nor CONDA_EXE names an executable. */
export const COMMON_PREFIXES: readonly string[] = [
  '/opt/conda',
  '/opt/miniconda3',
  '/opt/miniforge3',
  '/opt/mambaforge',
  '/opt/anaconda3',
  '/usr/local/miniconda3',
  '/usr/local/anaconda3',
  '/opt/micromamba',
];

const NAMES = ['conda', 'mamba', 'micromamba'] as const;

/** Which CLI an executable is; they differ in a few flags. */
export type CondaFlavour = (typeof NAMES)[number];

/** The located executable. */
export interface CondaExecutable {
  readonly path: string;
  readonly flavour: CondaFlavour;
  /** Where it came from, for the log line at start. */
  readonly source: 'config' | 'CONDA_EXE' | 'prefix' | 'PATH';
}

/** Where to look; defaults are the daemon's environment and COMMON_PREFIXES. */
export interface LocateOptions {
  readonly configured: string | null;
  readonly env?: NodeJS.ProcessEnv;
  readonly prefixes?: readonly string[];
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The flavour by file name; anything unrecognised is treated as conda. */
export function flavourOf(path: string): CondaFlavour {
  const name = basename(path);
  if (name.startsWith('micromamba')) return 'micromamba';
  return name.startsWith('mamba') ? 'mamba' : 'conda';
}

function found(path: string, source: CondaExecutable['source']): CondaExecutable {
  return { path, flavour: flavourOf(path), source };
}

/**
 * Returns the executable, or null when none is found. A configured path that does not work is an
 * error, not a reason to fall back: the administrator asked for that one.
 */
export async function locateConda(options: LocateOptions): Promise<CondaExecutable | null> {
  const env = options.env ?? process.env;

  if (options.configured !== null) {
    if (isAbsolute(options.configured) && (await isExecutableFile(options.configured))) {
      return found(options.configured, 'config');
    }
    throw new SksdError('conda_unavailable', {
      logDetail: `conda.executable ${options.configured} is not an absolute path to an executable`,
    });
  }

  const fromEnv = env.CONDA_EXE;
  if (fromEnv !== undefined && isAbsolute(fromEnv) && (await isExecutableFile(fromEnv))) {
    return found(fromEnv, 'CONDA_EXE');
  }

  for (const prefix of options.prefixes ?? COMMON_PREFIXES) {
    for (const name of NAMES) {
      const candidate = join(prefix, 'bin', name);
      if (await isExecutableFile(candidate)) return found(candidate, 'prefix');
    }
  }

  // A relative PATH entry would make the answer depend on the daemon's working directory.
  const dirs = (env.PATH ?? '').split(delimiter).filter((dir) => isAbsolute(dir));
  for (const name of NAMES) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (await isExecutableFile(candidate)) return found(candidate, 'PATH');
    }
  }
  return null;
}
