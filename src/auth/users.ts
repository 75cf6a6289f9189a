/**
 * Looks Unix accounts up through NSS (getent, id), so that LDAP or sssd users work the same as
 * local ones. Nothing here authenticates; it only answers "who is this name".
 */
import { execa } from 'execa';

/** A Unix account as the kernel will run under it. */
export interface UserAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
  /** Supplementary group ids, the primary group included, as initgroups(3) would set them. */
  readonly groups: readonly number[];
  readonly groupNames: readonly string[];
}

/** Returns the account, or null when NSS does not know the name. */
export async function lookupUser(name: string): Promise<UserAccount | null> {
  const passwd = await execa('getent', ['passwd', '--', name], { reject: false, timeout: 10_000 });
  if (passwd.exitCode !== 0) return null;

  const fields = passwd.stdout.split('\n')[0]?.split(':') ?? [];
  if (fields.length < 7 || fields[0] !== name) return null;

  const ids = await execa('id', ['-G', '--', name], { reject: false, timeout: 10_000 });
  const names = await execa('id', ['-Gn', '--', name], { reject: false, timeout: 10_000 });
  if (ids.exitCode !== 0 || names.exitCode !== 0) return null;

  return {
    name,
    uid: Number(fields[2]),
    gid: Number(fields[3]),
    home: fields[5] ?? '/',
    shell: fields[6] || '/bin/sh',
    groups: ids.stdout.trim().split(/\s+/).map(Number),
    groupNames: names.stdout.trim().split(/\s+/),
  };
}
