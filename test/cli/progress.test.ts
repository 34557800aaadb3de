import { describe, expect, it } from 'vitest';
import { createProgress, formatProgressLine, type ProgressStream } from '../../src/cli/progress.js';

/** A fake terminal that records writes, with a hand-driven clock. */
function fakeStream(isTTY: boolean, columns = 80): ProgressStream & { writes: string[] } {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (text: string) => writes.push(text) };
}

describe('formatProgressLine', () => {
  it('draws a 20-cell bar with counts and percent', () => {
    expect(formatProgressLine({ stage: 'embed', done: 5, total: 20, message: 'a.png' }, 80)).toBe(
      'embed [#####...............] 5/20 25% a.png',
    );
    expect(formatProgressLine({ stage: 'embed', done: 20, total: 20 }, 80)).toBe('embed [####################] 20/20 100%');
  });

  it('shows only the count when the total is unknown, and flattens newlines in messages', () => {
    expect(formatProgressLine({ stage: 'scan', done: 7, total: 0, message: 'two\nlines' }, 80)).toBe('scan 7 two lines');
  });

  it('cuts the line to columns - 1 so a redraw never wraps', () => {
    const line = formatProgressLine({ stage: 'segment-everything', done: 1, total: 3, message: 'x'.repeat(100) }, 60);
    // 1/3 of 20 cells rounds to 7; the 50 characters before the message leave room for 9 of it.
    expect(line).toBe('segment-everything [#######.............] 1/3 33% ' + 'x'.repeat(9));
  });
});

describe('createProgress', () => {
  it('redraws one line with \\r on a TTY, throttled to the interval within a stage', () => {
    const stream = fakeStream(true);
    let now = 0;
    const progress = createProgress(stream, { now: () => now, intervalMs: 100 });
    progress({ stage: 'a', done: 1, total: 10 }); // first event: drawn
    now = 50;
    progress({ stage: 'a', done: 2, total: 10 }); // 50 ms later: skipped
    now = 100;
    progress({ stage: 'a', done: 3, total: 10 }); // 100 ms after the last draw: drawn
    now = 110;
    progress({ stage: 'b', done: 0, total: 4 }); // new stage: drawn at once
    now = 120;
    progress({ stage: 'b', done: 4, total: 4 }); // finished: drawn at once
    expect(stream.writes).toEqual([
      '\r\x1b[K' + formatProgressLine({ stage: 'a', done: 1, total: 10 }, 80),
      '\r\x1b[K' + formatProgressLine({ stage: 'a', done: 3, total: 10 }, 80),
      '\r\x1b[K' + formatProgressLine({ stage: 'b', done: 0, total: 4 }, 80),
      '\r\x1b[K' + formatProgressLine({ stage: 'b', done: 4, total: 4 }, 80),
    ]);
    expect(stream.writes.every((w) => !w.includes('\n'))).toBe(true);
    progress.finish();
    expect(stream.writes.at(-1)).toBe('\r\x1b[K');
    progress.finish();
    expect(stream.writes.length).toBe(5);
  });

  it('uses the stream width', () => {
    const stream = fakeStream(true, 20);
    createProgress(stream)({ stage: 'stage', done: 1, total: 2, message: 'long message here' });
    expect(stream.writes[0]).toBe('\r\x1b[K' + 'stage [##########..'); // 19 = columns - 1
  });

  it('writes nothing when the stream is not a TTY or quiet is set', () => {
    for (const [stream, quiet] of [
      [fakeStream(false), false],
      [fakeStream(true), true],
    ] as const) {
      const progress = createProgress(stream, { quiet });
      progress({ stage: 'a', done: 1, total: 1 });
      progress.finish();
      expect(stream.writes).toEqual([]);
    }
  });
});
