/**
 * SIGHUP: read the config file again. A file that does not validate is refused as a whole and the
 * config in force stays; otherwise the settings that can change while running take effect and the
 * others are logged as waiting for a restart. The config in force is then "the old one with the
 * live changes", so a later reload still reports a restart-only change that has not taken effect.
 *
 * What is live is a decision per key, listed in LIVE_KEYS: a key not listed (including every key
 * added later) waits for a restart, which is the safe default. The daemon reads live keys through
 * the current config at the moment of use (see liveView), so nothing has to be rebuilt.
 */
import { ConfigError, loadConfig, type ConfigProblem } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';

/**
 * Keys (or whole sections) a reload applies at once. Not listed, so restart-only: `name` (mDNS and
 * clients' records), `listen.*` (the socket), `tls.*` (certificate and pinned fingerprint),
 * `paths.*`, `auth.pamService` and `auth.pamConcurrency` (the PAM worker pool), `rpc.maxBatch` and
 * `rpc.maxConnections` (fixed when the server is built).
 */
export const LIVE_KEYS: readonly string[] = [
  'conda.executable',
  'auth.allowUsers',
  'auth.allowGroups',
  'auth.denyUsers',
  'auth.sessionTtl',
  'auth.maxFailuresPerUser',
  'auth.maxFailuresPerAddress',
  'auth.failureWindow',
  'kernels.perUser',
  'kernels.address',
  'kernels.startTimeout',
  'kernels.shutdownGrace',
  // Read through the config in force: limits at the next start, culling at the next check, the
  // stop policy at the next stop.
  'kernels.total',
  'kernels.idleTimeout',
  'kernels.cullConnected',
  'kernels.onDaemonStop',
  // At the next start; running kernels keep their ports, a restart too (docs/operations.md).
  'kernels.portRange',
  'rpc.maxMessageBytes',
  'rpc.idleTimeout',
  'log.level',
  // Environment administration reads its policy at each action and each change's start.
  'policy',
];

/** True when the dotted key is in LIVE_KEYS or inside a section listed there. */
export function isLiveKey(key: string): boolean {
  return LIVE_KEYS.some((live) => key === live || key.startsWith(`${live}.`));
}

type Tree = Record<string, unknown>;

const isTree = (value: unknown): value is Tree =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Dotted paths of the leaves that differ; an array is one leaf (allowUsers changes as a whole). */
export function changedKeys(old: unknown, next: unknown, prefix = ''): string[] {
  if (isTree(old) && isTree(next)) {
    const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
    return [...keys].flatMap((key) =>
      changedKeys(old[key], next[key], prefix === '' ? key : `${prefix}.${key}`),
    );
  }

  return JSON.stringify(old) === JSON.stringify(next) ? [] : [prefix];
}

/** What a reload from `current` to `next` does. */
export interface ReloadPlan {
  /** Changed keys that take effect now. */
  readonly live: string[];
  /** Changed keys that take effect at the next start. */
  readonly restart: string[];
  /** The config in force afterwards: current, with the live keys taken from next. */
  readonly effective: Config;
}

/** Sorts the changes between two validated configs into live and restart-only. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const changed = changedKeys(current, next);
  const live = changed.filter(isLiveKey);
  const restart = changed.filter((key) => !isLiveKey(key));

  const effective = structuredClone(current) as unknown as Tree;
  for (const key of live) setPath(effective, key, getPath(next as unknown as Tree, key));

  return { live, restart, effective: effective as unknown as Config };
}

function getPath(tree: Tree, key: string): unknown {
  return key
    .split('.')
    .reduce<unknown>((node, part) => (isTree(node) ? node[part] : undefined), tree);
}

function setPath(tree: Tree, key: string, value: unknown): void {
  const parts = key.split('.');
  const last = parts.pop() as string;

  let node = tree;
  for (const part of parts) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[last] = structuredClone(value);
}

/**
 * An object that reads every property from `read()` at the moment of use: a component given
 * `liveView(() => current.rpc)` sees the config in force, not the one it was built with.
 */
export function liveView<T extends object>(read: () => T): T {
  return new Proxy({} as T, {
    get: (_target, property) => Reflect.get(read(), property),
    has: (_target, property) => Reflect.has(read(), property),
    ownKeys: () => Reflect.ownKeys(read()),
    getOwnPropertyDescriptor: (_target, property) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(read(), property);
      // The proxy's target has no such property, so the descriptor must say it may change.
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
  });
}

/** What one reload did. */
export type ReloadOutcome =
  | { readonly result: 'refused'; readonly problems: readonly ConfigProblem[] }
  | { readonly result: 'failed'; readonly error: unknown }
  | { readonly result: 'applied'; readonly applied: string[]; readonly needsRestart: string[] };

/** What the reloader needs: the file, the config in force at start, and how to apply one. */
export interface ReloaderOptions {
  /** The --config file; undefined means /etc/sksd.conf, where a missing file means defaults. */
  readonly file: string | undefined;
  readonly initial: Config;
  /** Puts a config in force; called only with a validated, planned config. */
  readonly apply: (config: Config) => void;
  readonly logger: Logger;
  /** systemd: told when a reload starts and when the daemon serves again. */
  readonly notifier?: { reloading(): unknown; ready(): unknown };
}

/** Runs reloads one at a time; signals that arrive during one cause exactly one more. */
export class ConfigReloader {
  #current: Config;
  #running: Promise<ReloadOutcome> | null = null;
  #again = false;
  readonly #options: ReloaderOptions;
  readonly #log: Logger;

  constructor(options: ReloaderOptions) {
    this.#options = options;
    this.#current = options.initial;
    this.#log = options.logger.child({ component: 'reload' });
  }

  /** The config in force. */
  get current(): Config {
    return this.#current;
  }

  /** For SIGHUP: starts a reload, or queues one behind the reload in progress. Never rejects. */
  request(): void {
    if (this.#running !== null) {
      this.#again = true;
      return;
    }

    void this.reload();
  }

  /** Reloads now (after the one in progress, if any) and resolves with what happened. */
  async reload(): Promise<ReloadOutcome> {
    while (this.#running !== null) await this.#running;

    this.#running = this.#once();
    try {
      return await this.#running;
    } finally {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        this.request();
      }
    }
  }

  async #once(): Promise<ReloadOutcome> {
    const file = this.#options.file;
    this.#options.notifier?.reloading();
    this.#log.info({ file: file ?? '(default)' }, 'reloading configuration');

    try {
      return await this.#apply(file);
    } catch (error) {
      // A bug while applying must not take the daemon down from a signal handler.
      this.#log.error({ err: error }, 'reload failed while applying; check the settings in force');
      return { result: 'failed', error };
    } finally {
      this.#options.notifier?.ready();
    }
  }

  async #apply(file: string | undefined): Promise<ReloadOutcome> {
    let next: Config;
    try {
      next = (await loadConfig(file)).config;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;

      // The same file:line: key: message lines that `sksd config check` prints.
      this.#log.error(
        { problems: error.message.split('\n') },
        'reload refused: the configuration is not valid; the previous one stays in force',
      );
      return { result: 'refused', problems: error.problems };
    }

    const plan = planReload(this.#current, next);
    this.#options.apply(plan.effective);
    this.#current = plan.effective;

    if (plan.restart.length > 0) {
      this.#log.warn(
        { needsRestart: plan.restart },
        `changed, but needs a restart to take effect: ${plan.restart.join(', ')}`,
      );
    }

    const what = plan.live.length > 0 ? plan.live.join(', ') : 'nothing to apply';
    this.#log.info(
      { applied: plan.live, needsRestart: plan.restart },
      `configuration reloaded: ${what}`,
    );
    return { result: 'applied', applied: plan.live, needsRestart: plan.restart };
  }
}
