/**
 * How the CLI shows ops.progress: a bar redrawn in place on a terminal, plain lines otherwise
 * (a log file or CI gets one line per phase and per package, not a stream of \r).
 * Everything goes to stderr, so stdout keeps only the result (and --json stays parseable).
 */
import type { OpsProgressParams } from '../rpc/methods-admin.js';

const WIDTH = 24;

/** Renders the progress of one operation. */
export class ProgressView {
  private lastPhase: string | null = null;
  private drawn = false;
  private readonly seen = new Set<string>();

  constructor(
    private readonly out: NodeJS.WritableStream & {
      isTTY?: boolean;
      columns?: number;
    } = process.stderr,
    private readonly tty = out.isTTY === true,
  ) {}

  /** Shows one event. */
  update(p: OpsProgressParams): void {
    if (this.tty) {
      this.draw(p);
      return;
    }
    if (p.phase !== this.lastPhase && p.phase !== 'downloading') this.line(phaseText(p.phase));
    if (p.phase === 'downloading' && p.package !== undefined && !this.seen.has(p.package)) {
      this.seen.add(p.package);
      this.line(`downloading ${p.package}`);
    }
    this.lastPhase = p.phase;
  }

  /** A message of the CLI's own (cancelling...), on its own line. */
  note(text: string): void {
    this.clear();
    this.line(text);
  }

  /** Clears the bar before the result is printed. */
  done(): void {
    this.clear();
  }

  private draw(p: OpsProgressParams): void {
    // conda announces no total: the bar counts finished downloads among those seen so far,
    // plus the share of the one in progress.
    const partial =
      p.phase === 'downloading' && p.fraction !== undefined && p.fraction < 1 ? p.fraction : 0;
    const share = p.total === 0 ? (p.phase === 'linking' ? 1 : 0) : (p.done + partial) / p.total;
    const filled = Math.round(Math.min(1, share) * WIDTH);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`;
    const what = p.package === undefined ? '' : ` ${p.package}`;
    const text = `${phaseText(p.phase).padEnd(12)} ${bar} ${p.done}/${p.total}${what}`;
    const max = Math.max(20, (this.out.columns ?? 80) - 1);
    this.out.write(`\r\x1b[K${text.slice(0, max)}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  private line(text: string): void {
    this.out.write(`${text}\n`);
  }
}

function phaseText(phase: OpsProgressParams['phase']): string {
  switch (phase) {
    case 'solving':
      return 'solving';
    case 'downloading':
      return 'downloading';
    case 'linking':
      return 'linking';
    case 'cleanup':
      return 'cleaning up';
  }
}
