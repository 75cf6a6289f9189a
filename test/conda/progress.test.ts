/**
 * conda's --json progress stream: NUL-terminated fetch records split from the final document,
 * and the events sksd derives from them (solving, downloading per package, linking), throttled.
 */
import { describe, expect, it } from 'vitest';
import {
  packageOf,
  parseFetchRecord,
  ProgressReporter,
  RecordSplitter,
  type ProgressEvent,
} from '../../src/conda/progress.js';

const record = (desc: string, progress: number, finished = false) =>
  `{"fetch":"${desc}","finished":${finished},"maxval":1,"progress":${finished ? 1 : progress.toFixed(6)}}\n`;

describe('the record stream', () => {
  it('splits records at NUL, in any chunking, and keeps the document after the last one', () => {
    const text = `${record('a-1', 0)}\0${record('a-1', 1, true)}\0{"success": true}\n`;
    for (const size of [1, 3, 7, text.length]) {
      const records: string[] = [];
      const splitter = new RecordSplitter((r) => records.push(r));
      for (let i = 0; i < text.length; i += size) splitter.push(text.slice(i, i + size));
      expect(records.map((r) => parseFetchRecord(r)?.finished)).toEqual([false, true]);
      expect(JSON.parse(splitter.document() ?? '')).toEqual({ success: true });
    }
  });

  it('gives up the document beyond its cap, and ignores what is not a fetch record', () => {
    const splitter = new RecordSplitter(() => undefined, 10);
    splitter.push('x'.repeat(11));
    expect(splitter.document()).toBeNull();
    expect(parseFetchRecord('{"other": 1}')).toBeNull();
    expect(parseFetchRecord('not json')).toBeNull();
  });

  it('names the package in old and new description styles', () => {
    expect(packageOf('numpy-1.26.4        | 7.6 MB    | ')).toBe('numpy-1.26.4');
    expect(packageOf('numpy-1.26.4')).toBe('numpy-1.26.4');
  });
});

describe('progress events', () => {
  it('reports solving, each download, and linking once every seen download finished', () => {
    let now = 0;
    const events: ProgressEvent[] = [];
    const reporter = new ProgressReporter(
      (e) => events.push(e),
      250,
      () => now,
    );
    reporter.enter('solving');
    for (let i = 0; i <= 100; i++) {
      now += 10;
      reporter.record({ fetch: 'big-1 | 1 GB | ', finished: false, progress: i / 100 });
    }
    reporter.record({ fetch: 'big-1 | 1 GB | ', finished: true, progress: 1 });

    expect(events[0]).toEqual({ phase: 'solving', done: 0, total: 0 });
    const downloads = events.filter((e) => e.phase === 'downloading');
    expect(downloads.length).toBeGreaterThan(2);
    expect(downloads.length).toBeLessThan(10); // 1010 ms of records at most every 250 ms
    expect(events.at(-1)).toEqual({ phase: 'linking', done: 1, total: 1 });
    expect(reporter.current).toBe('linking');
  });
});
