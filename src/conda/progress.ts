/**
 * conda's progress with --json, turned into ops.progress events. What conda reports (its JSON
 * reporter, conda/plugins/reporter_backends/json.py, and ProgressBar in older releases):
 *
 * - While downloading, records `{"fetch":"DESC","finished":false,"maxval":1,"progress":F}\n\0`,
 *   one or many per package, and `..."finished":true...` when one is done. DESC is
 *   "name-version", padded with sizes in older conda ("numpy-1.26.4 | 7.6 MB | ").
 * - Spinners ("Collecting package metadata", "Solving environment", "Executing transaction") are
 *   silent in JSON mode, and the final JSON document follows the last record.
 *
 * So sksd reports `solving` from the start to the first record, `downloading` per package, and
 * `linking` once every download seen has finished. conda announces no total beforehand, so
 * linking is inferred: a later download can follow it. Records come many times a second per
 * package; events are throttled so that a client gets a few per second at most.
 */
import type { OpPhase } from '../rpc/methods-admin.js';

/** One download record from conda's stdout. */
export interface FetchRecord {
  readonly fetch: string;
  readonly finished: boolean;
  readonly progress: number;
}

/** A progress event, before the operation adds its id, method and env. */
export interface ProgressEvent {
  readonly phase: OpPhase;
  readonly package?: string;
  readonly fraction?: number;
  readonly done: number;
  readonly total: number;
}

/** Parses one NUL-terminated piece; null for anything that is not a fetch record. */
export function parseFetchRecord(text: string): FetchRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;

  const r = value as Record<string, unknown>;
  if (typeof r['fetch'] !== 'string' || typeof r['finished'] !== 'boolean') return null;
  const progress = typeof r['progress'] === 'number' ? Math.min(1, Math.max(0, r['progress'])) : 0;
  return { fetch: r['fetch'], finished: r['finished'], progress };
}

/** The package part of conda's description: "numpy-1.26.4 | 7.6 MB | " -> "numpy-1.26.4". */
export function packageOf(description: string): string {
  return (description.split('|')[0] ?? '').trim() || '(package)';
}

/**
 * Splits conda's stdout into NUL-terminated records and the final document (the text after the
 * last NUL). The document is kept up to a cap; records are handed over as they complete.
 */
export class RecordSplitter {
  private pending = '';
  private overflow = false;

  constructor(
    private readonly onRecord: (text: string) => void,
    private readonly maxDocumentChars = 16 * 1024 * 1024,
  ) {}

  push(chunk: string): void {
    if (this.overflow) return;

    this.pending += chunk;
    let nul = this.pending.indexOf('\0');
    while (nul >= 0) {
      this.onRecord(this.pending.slice(0, nul));
      this.pending = this.pending.slice(nul + 1);
      nul = this.pending.indexOf('\0');
    }
    if (this.pending.length > this.maxDocumentChars) this.overflow = true;
  }

  /** The final document, or null when it outgrew the cap. */
  document(): string | null {
    return this.overflow ? null : this.pending;
  }
}

/** Turns fetch records into throttled progress events. */
export class ProgressReporter {
  private readonly packages = new Map<
    string,
    { fraction: number; sentFraction: number; done: boolean }
  >();
  private finished = 0;
  private phase: OpPhase = 'solving';
  private lastSent = 0;

  constructor(
    private readonly emit: (event: ProgressEvent) => void,
    private readonly intervalMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /** Announces a phase sksd itself knows about (solving at start, cleanup after a cancel). */
  enter(phase: OpPhase): void {
    this.phase = phase;
    this.send({ phase });
  }

  record(record: FetchRecord): void {
    const name = packageOf(record.fetch);
    let entry = this.packages.get(name);
    if (entry === undefined) {
      entry = { fraction: 0, sentFraction: -1, done: false };
      this.packages.set(name, entry);
    }
    if (entry.done) return; // already reported finished

    entry.fraction = record.finished ? 1 : record.progress;
    entry.done = record.finished;
    if (record.finished) this.finished += 1;
    this.phase = 'downloading';

    const due = this.now() - this.lastSent >= this.intervalMs;
    const first = entry.sentFraction < 0;
    if (record.finished || first || (due && entry.fraction - entry.sentFraction >= 0.01)) {
      entry.sentFraction = entry.fraction;
      this.send({ phase: 'downloading', package: name, fraction: entry.fraction });
    }
    if (this.finished === this.packages.size) this.enter('linking');
  }

  private send(event: Omit<ProgressEvent, 'done' | 'total'>): void {
    this.lastSent = this.now();
    this.emit({ ...event, done: this.finished, total: this.packages.size });
  }

  /** The phase reached so far, for ops.list. */
  get current(): OpPhase {
    return this.phase;
  }
}
