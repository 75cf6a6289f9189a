/**
 * The admin's policy for environment administration (config section `policy`): who may create
 * and remove environments, who administers the shared ones, which channels and packages requests
 * may name, and how many environments a user may own. Each check refuses with a coded error.
 */
import type { UserAccount } from '../auth/users.js';
import type { Config } from '../config/schema.js';
import { SksdError } from '../rpc/errors.js';
import { channelKey, type ParsedSpec } from './specs.js';

/** The `policy` section of the config. */
export type PolicyConfig = Config['policy'];

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

function listed(user: UserAccount, users: readonly string[], groups: readonly string[]): boolean {
  return users.includes(user.name) || user.groupNames.some((g) => groups.includes(g));
}

/** Policy checks; one instance per daemon, built from the validated config. */
export class EnvPolicy {
  private readonly allowPackages: RegExp[];
  private readonly denyPackages: RegExp[];
  private readonly allowChannels: Set<string>;

  constructor(readonly config: PolicyConfig) {
    this.allowPackages = config.allowPackages.map(globToRegExp);
    this.denyPackages = config.denyPackages.map(globToRegExp);
    this.allowChannels = new Set(config.allowChannels.map(channelKey));
  }

  /** Whether a channel allowlist is in force (then every change names its channels). */
  get restrictsChannels(): boolean {
    return this.allowChannels.size > 0;
  }

  /** Refuses every administration method when the admin turned them off. */
  assertEnabled(user: UserAccount, action: string): void {
    if (this.config.manageEnvs) return;

    throw new SksdError('forbidden', {
      data: { reason: 'disabled', action },
      logDetail: `${user.name}: ${action}: policy.manageEnvs is false`,
    });
  }

  /** Creating, cloning and removing one's own environments. */
  assertMayCreate(user: UserAccount, action: string): void {
    const { createUsers, createGroups } = this.config;
    if (createUsers.length === 0 && createGroups.length === 0) return;
    if (listed(user, createUsers, createGroups)) return;

    throw new SksdError('forbidden', {
      data: { reason: 'policy', action },
      logDetail: `${user.name}: ${action}: not in policy.createUsers/createGroups`,
    });
  }

  /** Whether the user administers the shared environments in the root prefix. */
  isSharedAdmin(user: UserAccount): boolean {
    return listed(user, this.config.adminUsers, this.config.adminGroups);
  }

  /** Refuses a change to a shared environment by anyone but an admin. */
  assertSharedAdmin(user: UserAccount, action: string): void {
    if (this.isSharedAdmin(user)) return;

    throw new SksdError('forbidden', {
      data: { reason: 'shared_env', action },
      logDetail: `${user.name}: ${action}: a shared environment and not in policy.adminUsers/Groups`,
    });
  }

  /** Refuses the first channel not on the allowlist (if there is one). */
  assertChannels(channels: readonly string[]): void {
    if (!this.restrictsChannels) return;

    const refused = channels.find((c) => !this.allowChannels.has(channelKey(c)));
    if (refused === undefined) return;
    // The channel passed validation (no credentials), so naming it back is safe and useful.
    throw new SksdError('channel_not_allowed', {
      data: { channel: refused },
      logDetail: `channel ${refused} is not in policy.allowChannels`,
    });
  }

  /** Refuses specs whose package or `channel::` the policy does not allow. */
  assertSpecs(specs: readonly ParsedSpec[]): void {
    this.assertChannels(specs.flatMap((s) => (s.channel === null ? [] : [s.channel])));
    this.assertPackages(specs.map((s) => s.name));
  }

  /** Refuses package names outside allowPackages or inside denyPackages. */
  assertPackages(names: readonly string[]): void {
    for (const name of names) {
      const allowed =
        this.allowPackages.length === 0 || this.allowPackages.some((r) => r.test(name));
      if (allowed && !this.denyPackages.some((r) => r.test(name))) continue;

      throw new SksdError('package_not_allowed', {
        data: { package: name },
        logDetail: `package ${name} is refused by policy.allowPackages/denyPackages`,
      });
    }
  }

  /** Refuses a new environment beyond the per-user limit; `owned` counts the user's own. */
  assertEnvLimit(user: UserAccount, owned: number): void {
    const limit = this.config.maxEnvsPerUser;
    if (limit === 0 || owned < limit) return;

    throw new SksdError('env_limit_reached', {
      data: { limit },
      logDetail: `${user.name} owns ${owned} environments (limit ${limit})`,
    });
  }
}

const cache = new WeakMap<PolicyConfig, EnvPolicy>();

/** The policy for a config section, built once per section object (a reload makes a new one). */
export function policyFor(config: PolicyConfig): EnvPolicy {
  let policy = cache.get(config);
  if (policy === undefined) {
    policy = new EnvPolicy(config);
    cache.set(config, policy);
  }
  return policy;
}
