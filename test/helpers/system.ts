/** System facts and set-up shared by tests: the PAM service file, groups, process groups. */
import { constants, copyFileSync, readdirSync, readFileSync } from 'node:fs';
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

/**
 * Pids of a uid's processes that are not zombies, from /proc: what "nothing is left running"
 * means after a test (PID 1 here may reap orphans slowly, so zombies do not count).
 */
export function processesOfUid(uid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const owner = /^Uid:\s+(\d+)/m.exec(status)?.[1];
        return Number(owner) === uid && !/^State:\s+Z/m.test(status);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}
