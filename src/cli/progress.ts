/**
 * A terminal progress bar for the CLI: one line redrawn in place with \r, throttled, and silent
 * when the output is not a terminal (pipes, CI logs) or --quiet was given, so logs only get the
 * final summaries the caller prints.
 */
import type { ProgressEvent } from '../pipeline/stages/options.js';

export type { ProgressEvent };

/** What the progress bar writes to: a Node WriteStream (process.stderr) or anything alike. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** Terminal width; lines are cut to fit so \r redraws never wrap. */
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Draw nothing at all. */
  quiet?: boolean;
  /** Minimum time between redraws of the same stage, in ms (default 100, i.e. ~10 Hz). */
  intervalMs?: number;
  /** Clock in ms (injected by tests; default Date.now). */
  now?: () => number;
}

/** A progress listener (pass it as onProgress) that can also clear its line when work ends. */
export interface ProgressReporter {
  (event: ProgressEvent): void;
  /** Clears the progress line so following output starts on a clean line. Safe to call twice. */
  finish(): void;
}

const BAR_WIDTH = 20;
const CLEAR_LINE = '\r\x1b[K';

/** A progress reporter drawing on `stream` when it is a TTY and not quiet; a no-op otherwise. */
export function createProgress(stream: ProgressStream, options: ProgressOptions = {}): ProgressReporter {
  const enabled = options.quiet !== true && stream.isTTY === true;
  const interval = options.intervalMs ?? 100;
  const now = options.now ?? Date.now;
  let lastStage: string | undefined;
  let lastDraw = -Infinity;
  let drawn = false;

  const report = ((event: ProgressEvent): void => {
    if (!enabled) return;
    const time = now();
    const finished = event.total > 0 && event.done >= event.total;
    if (event.stage === lastStage && !finished && time - lastDraw < interval) return;
    lastStage = event.stage;
    lastDraw = time;
    drawn = true;
    stream.write(CLEAR_LINE + formatProgressLine(event, stream.columns ?? 80));
  }) as ProgressReporter;

  report.finish = (): void => {
    if (drawn) stream.write(CLEAR_LINE);
    drawn = false;
    lastStage = undefined;
    lastDraw = -Infinity;
  };
  return report;
}

/**
 * One progress line: "stage [#########...........] done/total pct% message", cut to
 * `columns - 1` characters. Without a known total (total <= 0) only "stage done" and the message.
 */
export function formatProgressLine(event: ProgressEvent, columns: number): string {
  const parts = [event.stage];
  if (event.total > 0) {
    const fraction = Math.min(1, Math.max(0, event.done / event.total));
    const filled = Math.round(fraction * BAR_WIDTH);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`, `${event.done}/${event.total}`, `${Math.floor(fraction * 100)}%`);
  } else {
    parts.push(String(event.done));
  }
  // A newline inside the message would break the in-place redraw.
  if (event.message) parts.push(event.message.replace(/[\r\n\t]+/g, ' '));
  const line = parts.join(' ');
  const limit = Math.max(1, columns - 1);
  return line.length > limit ? line.slice(0, limit) : line;
}
