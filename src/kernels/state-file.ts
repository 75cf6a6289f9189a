/**
 * STATE/kernels.json: every kernel the daemon may have running, so that a restarted daemon can
 * adopt or stop them (kernels.onDaemonStop) and nothing is orphaned after a `kill -9`. Each save
 * is atomic and durable: a temporary file is written and fsynced, renamed over the old one, and
 * the directory is fsynced, so the file on disk is always a complete old or new version. Saves are
 * serialized in call order. The file holds kernel keys: mode 0600 in the daemon's own directory.
 */
import { constants } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { ConnectionInfo } from '../rpc/methods.js';

/** One kernel as the state file keeps it. */
export const KernelRecord = z
  .object({
    id: z.string().min(1).max(64),
    user: z.object({ name: z.string().min(1), uid: z.number().int().min(0) }).strict(),
    env: z.string(),
    prefix: z.string().startsWith('/'),
    cwd: z.string().startsWith('/'),
    spyderKernels: z.string().nullable(),
    connection: ConnectionInfo,
    files: z.object({ connection: z.string(), log: z.string() }).strict(),
    /** The process group, once spawned; null between the save and the spawn. */
    pgid: z.number().int().min(2).nullable(),
    /** Whether the kernel ever answered; a kernel that never did is not adopted. */
    ready: z.boolean(),
    startedAt: z.string(),
    restarts: z.number().int().min(0),
  })
  .strict();
export type KernelRecord = z.infer<typeof KernelRecord>;

const StateFileJson = z.object({ version: z.literal(1), kernels: z.array(KernelRecord) }).strict();

const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** The state file of one daemon. */
export class KernelStateFile {
  private queue: Promise<void> = Promise.resolve();
  private writes = 0;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The records, or none when there is no file. A file that does not parse is moved aside and
   * logged; the daemon's sweep of the runtime directory still finds the kernels it named.
   */
  async load(): Promise<KernelRecord[]> {
    await this.removeTemporaries();
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }

    try {
      return StateFileJson.parse(JSON.parse(text)).kernels;
    } catch (err) {
      const aside = `${this.path}.bad-${Date.now()}`;
      await rename(this.path, aside);
      this.logger.error({ err, movedTo: aside }, 'kernel state file unreadable; moved aside');
      return [];
    }
  }

  /** Writes the records atomically, after every save called before this one. */
  save(records: readonly KernelRecord[]): Promise<void> {
    const text = `${JSON.stringify({ version: 1, kernels: records }, null, 1)}\n`;
    const write = this.queue.then(() => this.write(text));
    this.queue = write.catch(() => undefined);
    return write;
  }

  private async write(text: string): Promise<void> {
    // A name per write: two instances on one path (a test's two "daemons") never share one.
    const temporary = `${this.path}.${process.pid}-${++this.writes}.tmp`;
    const handle = await open(temporary, WRITE_NEW, 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);

    // The rename is durable only once the directory entry is on disk.
    const dir = await open(dirname(this.path), constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Temporary files of a daemon killed mid-write hold nothing the real file lacks. */
  private async removeTemporaries(): Promise<void> {
    const name = basename(this.path);
    const entries = await readdir(dirname(this.path)).catch(() => [] as string[]);
    const stale = entries.filter((e) => e.startsWith(`${name}.`) && e.endsWith('.tmp'));
    await Promise.all(stale.map((e) => unlink(join(dirname(this.path), e)).catch(() => undefined)));
  }
}
