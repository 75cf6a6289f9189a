/** System facts and set-up shared by tests: the PAM service file, groups, process groups. */
import { constants, copyFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Installs packaging/pam.d/sksd as the Debian package would, unless it is there already. */
export function installPamService(): void {
  try {
    const source = new URL('../../packaging/pam.d/sksd', import.meta.url);
    copyFileSync(source, '/etc/pam.d/sksd', constants.COPYFILE_EXCL);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** The gid of a group, through NSS. */
export function gidOf(group: string): number {
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}
