/**
 * The salip command line: argument parsing and output writing only; all work goes through the
 * public API. Diagnosed errors print `salip: <CODE>: <message>` and exit 2 (see run.ts).
 */
import { parseCommandLine, type CliSpec } from './args.js';
import { createProgress } from './progress.js';
import { EVAL_COMMAND, runEval } from './commands/eval.js';
import { EVERYTHING_COMMAND, runEverything } from './commands/everything.js';
import { SEGMENT_COMMAND, runSegment } from './commands/segment.js';
import { TUNE_COMMAND, runTune } from './commands/tune.js';
import { BATCH_COMMAND, runBatchCommand } from './commands/batch.js';
import { QUEUE_COMMAND, runQueue } from './commands/queue.js';
import { QUANTIZE_COMMAND, runQuantize } from './commands/quantize.js';

export const CLI_SPEC: CliSpec = {
  program: 'salip',
  summary: 'zero-shot medical image segmentation with SAM and CLIP (SaLIP)',
  version: '0.1.0',
  commands: [SEGMENT_COMMAND, EVERYTHING_COMMAND, EVAL_COMMAND, TUNE_COMMAND, BATCH_COMMAND, QUEUE_COMMAND, QUANTIZE_COMMAND],
  globalFlags: {
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar and no summaries' },
    debug: { type: 'boolean', description: 'print stack traces of errors' },
  },
};

/** Runs one command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, CLI_SPEC);
  if (parsed.kind === 'help') {
    (parsed.requested ? process.stdout : process.stderr).write(parsed.text + '\n');
    return parsed.requested ? 0 : 2;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(parsed.text + '\n');
    return 0;
  }
  const o = parsed.options;
  const quiet = o.quiet === true;
  const progress = createProgress(process.stderr, { quiet });
  const log = (s: string) => {
    if (!quiet) process.stdout.write(s + '\n');
  };
  try {
    switch (parsed.command) {
      case 'segment':
        return await runSegment(parsed.positionals[0], o, progress, log);
      case 'everything':
        return await runEverything(parsed.positionals[0], o, progress, log);
      case 'eval':
        return await runEval(o, progress, log);
      case 'tune':
        return await runTune(o, progress, log);
      case 'batch':
        return await runBatchCommand(parsed.positionals, o, progress, log);
      case 'queue':
        return await runQueue(parsed.positionals, o, progress, log);
      case 'quantize':
        return await runQuantize(parsed.positionals, o, log);
      default:
        throw new Error(`unhandled command ${parsed.command}`);
    }
  } finally {
    progress.finish();
  }
}
