/** The policy checks, from a parsed config section. */
import { describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { EnvPolicy, policyFor } from '../../src/conda/policy.js';
import { parseSpec } from '../../src/conda/specs.js';
import { SksdError } from '../../src/rpc/errors.js';

const user = (name: string, groupNames: string[] = []): UserAccount => ({
  name,
  uid: 1000,
  gid: 1000,
  home: `/home/${name}`,
  shell: '/bin/sh',
  groups: [],
  groupNames,
});

const policy = (section: Record<string, unknown>) =>
  new EnvPolicy(ConfigSchema.parse({ policy: section }).policy);

function refused(fn: () => void): SksdError {
  try {
    fn();
  } catch (error) {
    return error as SksdError;
  }
  throw new Error('not refused');
}

describe('the environment policy', () => {
  it('lets everyone create by default, and only listed users or groups when lists are set', () => {
    expect(() => policy({}).assertMayCreate(user('a'), 'envs.create')).not.toThrow();
    const listed = policy({ createUsers: ['a'], createGroups: ['lab'] });
    expect(() => listed.assertMayCreate(user('a'), 'x')).not.toThrow();
    expect(() => listed.assertMayCreate(user('b', ['lab']), 'x')).not.toThrow();
    expect(refused(() => listed.assertMayCreate(user('c'), 'x')).data).toEqual({
      reason: 'policy',
      action: 'x',
    });
  });

  it('knows shared-environment admins and the off switch', () => {
    const p = policy({ adminGroups: ['condaadm'], manageEnvs: false });
    expect(p.isSharedAdmin(user('x', ['condaadm']))).toBe(true);
    expect(refused(() => p.assertSharedAdmin(user('y'), 'x')).data).toMatchObject({
      reason: 'shared_env',
    });
    expect(refused(() => p.assertEnabled(user('y'), 'x')).data).toMatchObject({
      reason: 'disabled',
    });
  });

  it('checks channels without case or trailing slash, and channel:: in specs', () => {
    const p = policy({ allowChannels: ['conda-forge', 'https://c.example.org/main/'] });
    expect(p.restrictsChannels).toBe(true);
    expect(() => p.assertChannels(['Conda-Forge', 'https://c.example.org/main'])).not.toThrow();
    expect(refused(() => p.assertChannels(['defaults'])).errorName).toBe('channel_not_allowed');
    expect(refused(() => p.assertSpecs([parseSpec('bioconda::samtools')])).data).toEqual({
      channel: 'bioconda',
    });
    expect(policy({}).restrictsChannels).toBe(false);
  });

  it('applies package allow and deny globs to the names a request gives', () => {
    const p = policy({ allowPackages: ['numpy', 'r-*'], denyPackages: ['r-evil*'] });
    expect(() => p.assertPackages(['numpy', 'r-base'])).not.toThrow();
    expect(refused(() => p.assertPackages(['scipy'])).data).toEqual({ package: 'scipy' });
    expect(refused(() => p.assertPackages(['r-evilness'])).errorName).toBe('package_not_allowed');
  });

  it('limits environments per user, and caches a policy per config section', () => {
    const section = ConfigSchema.parse({ policy: { maxEnvsPerUser: 2 } }).policy;
    expect(() => policyFor(section).assertEnvLimit(user('a'), 1)).not.toThrow();
    expect(refused(() => policyFor(section).assertEnvLimit(user('a'), 2)).data).toEqual({
      limit: 2,
    });
    expect(policyFor(section)).toBe(policyFor(section));
  });
});
