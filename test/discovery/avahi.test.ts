/**
 * Noticing a running avahi-daemon (for the coexistence line in the log) from its pid file, as
 * avahi writes it: a live pid counts, a stale or garbled file does not.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runningAvahi } from '../../src/discovery/avahi.js';
import { removeTempDirs, tempDir } from '../helpers/tls.js';

afterAll(removeTempDirs);

describe('runningAvahi', () => {
  it('reads a live pid, and ignores a missing, stale or garbled pid file', async () => {
    const dir = tempDir('avahi');
    const file = path.join(dir, 'pid');
    expect(await runningAvahi(file)).toBeNull();

    writeFileSync(file, `${process.pid}\n`);
    expect(await runningAvahi(file)).toBe(process.pid);

    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    writeFileSync(file, `${gone.pid}\n`);
    expect(await runningAvahi(file)).toBeNull();

    writeFileSync(file, 'not a pid\n');
    expect(await runningAvahi(file)).toBeNull();
  });
});
