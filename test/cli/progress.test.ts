/** The CLI's progress view: a bar redrawn in place on a terminal, plain lines otherwise. */
import { describe, expect, it } from 'vitest';
import { ProgressView } from '../../src/cli/progress.js';
import type { OpsProgressParams } from '../../src/rpc/methods-admin.js';

function sink(tty: boolean) {
  let text = '';
  const out = { isTTY: tty, columns: 60, write: (chunk: string) => ((text += chunk), true) };
  return { out: out as unknown as NodeJS.WritableStream & { isTTY: boolean }, text: () => text };
}

const base = { op: 'op-123456', method: 'packages.install', env: 'e' };
const events: OpsProgressParams[] = [
  { ...base, phase: 'solving', done: 0, total: 0 },
  { ...base, phase: 'downloading', package: 'numpy-1.26', fraction: 0.5, done: 0, total: 1 },
  { ...base, phase: 'downloading', package: 'numpy-1.26', fraction: 1, done: 1, total: 1 },
  { ...base, phase: 'linking', done: 1, total: 1 },
];

describe('the progress view', () => {
  it('prints one line per phase and per package without a terminal', () => {
    const s = sink(false);
    const view = new ProgressView(s.out);
    events.forEach((e) => view.update(e));
    view.done();
    expect(s.text()).toBe('solving\ndownloading numpy-1.26\nlinking\n');
  });

  it('redraws one bar on a terminal and clears it at the end', () => {
    const s = sink(true);
    const view = new ProgressView(s.out);
    events.forEach((e) => view.update(e));
    expect(s.text()).toContain('\r\x1b[Kdownloading  [############............] 0/1 numpy-1.26');
    expect(s.text()).toContain('[########################] 1/1');
    expect(s.text()).not.toContain('\n');
    view.done();
    expect(s.text().endsWith('\r\x1b[K')).toBe(true);
  });
});
