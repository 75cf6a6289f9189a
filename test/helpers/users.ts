/**
 * Real Unix users for tests: created with useradd, named sksdt*, removed afterwards (home included).
 * Tests that need them run as root; `requireRoot` skips nothing silently, it fails loudly.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lookupUser, type UserAccount } from '../../src/auth/users.js';

export interface TestUser {
  name: string;
  password: string;
  uid: number;
  gid: number;
  home: string;
}

const created = new Set<string>();
const createdGroups = new Set<string>();

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A unique name with the sksdt prefix, at most 32 characters. */
export function testName(tag: string): string {
  return `sksdt${tag}${randomBytes(3).toString('hex')}`.slice(0, 32);
}

/** Creates a group and remembers it for removal. */
export function createGroup(tag = 'g'): string {
  const name = testName(tag);
  run('groupadd', [name]);
  createdGroups.add(name);
  return name;
}

/** Creates a user with a home directory and a random password. */
export function createUser(options: { tag?: string; groups?: string[] } = {}): TestUser {
  const name = testName(options.tag ?? 'u');
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const args = ['--create-home', '--shell', '/bin/bash', '--user-group'];
  if (options.groups?.length) args.push('--groups', options.groups.join(','));
  run('useradd', [...args, name]);
  created.add(name);
  run('chpasswd', [], `${name}:${password}\n`);

  const [, , uid, gid, , home] = run('getent', ['passwd', name]).trim().split(':');
  return { name, password, uid: Number(uid), gid: Number(gid), home: home ?? `/home/${name}` };
}

/** Creates a user and returns the account as code under test sees it: looked up through NSS. */
export async function createAccount(
  options: { tag?: string; groups?: string[] } = {},
): Promise<UserAccount> {
  const { name } = createUser(options);
  const account = await lookupUser(name);
  if (account === null) throw new Error(`${name} was created but NSS does not know it`);
  return account;
}

/** Expires the account (pam_acct_mgmt then fails while the password is still right). */
export function expireUser(name: string): void {
  run('chage', ['-E', '0', name]);
}

/** Locks the password (pam_authenticate then fails). */
export function lockUser(name: string): void {
  run('usermod', ['-L', name]);
}

/** Removes every user and group this process created; kills leftover processes of those users. */
export function removeAllTestUsers(): void {
  for (const name of created) {
    try {
      run('pkill', ['-KILL', '-u', name]);
    } catch {
      // pkill exits 1 when no process matched.
    }
    try {
      run('userdel', ['--remove', name]);
    } catch {
      // Already gone, or a zombie still holds the uid; the prefix makes leftovers easy to find.
    }
  }
  created.clear();
  for (const group of createdGroups) {
    try {
      run('groupdel', [group]);
    } catch {
      // Already gone.
    }
  }
  createdGroups.clear();
}
