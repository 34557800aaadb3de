/**
 * salip queue submit|worker|status --redis URL: batch segmentation on a BullMQ queue across
 * machines. bullmq is an optional peer dependency, loaded only here, when a queue command runs.
 */
import { resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import type { CommandSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, modelSettingsFromFlags } from '../models.js';
import { BATCH_INPUT_FLAGS, EXIT_SOME_FAILED, taskSourceFromFlags } from './batch.js';
import type { Options } from './shared.js';

export const QUEUE_ACTIONS = ['submit', 'worker', 'status'] as const;

export const QUEUE_COMMAND: CommandSpec = {
  name: 'queue',
  summary: 'segment on a BullMQ job queue over Redis, across machines (submit, worker, status)',
  description:
    'submit INPUTS... enqueues one job per input (resubmitting adds nothing); worker runs jobs until SIGTERM (which finishes the current job); ' +
    'status prints waiting/active/completed/failed counts and the failures with their codes. Workers must see the inputs and --out at the same paths ' +
    '(a shared folder). Needs bullmq: npm i bullmq. See docs/scale.md.',
  positionals: [
    { name: 'action', description: 'submit, worker or status' },
    { name: 'inputs', description: 'submit: images, volumes, folders or list files', optional: true, variadic: true },
  ],
  flags: {
    redis: { type: 'string', required: true, valueName: '<redis://host:port>', description: 'the Redis server holding the queue' },
    queue: { type: 'string', default: 'salip', valueName: '<name>', description: 'queue name (separate runs may use separate queues)' },
    ...BATCH_INPUT_FLAGS,
    concurrency: { type: 'integer', min: 1, max: 64, default: 1, description: 'worker: jobs at once in this process, each with its own ONNX Runtime sessions' },
    json: { type: 'boolean', description: 'status: print JSON' },
    ...MODEL_FLAGS,
  },
  examples: [
    'salip queue submit --redis redis://10.0.0.5:6379 --task lungs-cxr --exemplar-images /shared/lungs/images --exemplar-masks /shared/lungs/masks --out /shared/masks /shared/archive',
    'salip queue worker --redis redis://10.0.0.5:6379 --concurrency 2 --threads 1',
    'salip queue status --redis redis://10.0.0.5:6379 --json',
  ],
};

type QueueModule = typeof import('../../batch/queue.js');

/** Loads the queue module, or says to install bullmq when it is missing. */
export async function loadQueueModule(load: () => Promise<QueueModule> = () => import('../../batch/queue.js')): Promise<QueueModule> {
  try {
    return await load();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /bullmq/.test(String((cause as Error).message))) {
      throw new SalipError('MISSING_DEPENDENCY', "salip queue needs the optional package bullmq; install it with 'npm i bullmq'", { cause });
    }
    throw cause;
  }
}

export async function runQueue(positionals: string[], o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  const [action, ...inputs] = positionals;
  if (!(QUEUE_ACTIONS as readonly string[]).includes(action)) {
    throw new SalipError('INVALID_ARGUMENT', `salip queue: expected an action (${QUEUE_ACTIONS.join(', ')}), got '${action}'`);
  }
  if (action !== 'submit' && inputs.length > 0) throw new SalipError('INVALID_ARGUMENT', `salip queue ${action}: unexpected argument '${inputs[0]}'`);
  const connection = { redis: o.redis as string, queueName: o.queue as string };
  const queue = await loadQueueModule();
  if (action === 'submit') {
    if (inputs.length === 0) throw new SalipError('INVALID_ARGUMENT', 'salip queue submit: missing <inputs>...');
    if (o.out === undefined) throw new SalipError('INVALID_ARGUMENT', "--out: required by 'salip queue submit' (a folder every worker sees at the same path)");
    const outDir = resolve(o.out as string);
    const taskSource = await taskSourceFromFlags(o, inputs, outDir);
    const result = await queue.enqueue({ ...connection, inputs, outDir, taskSource, models: modelSettingsFromFlags(o) });
    log(`${result.total} inputs: ${result.added} jobs added, ${result.existing} already in the queue`);
    return 0;
  }
  if (action === 'status') {
    const status = await queue.queueStatus(connection);
    if (o.json === true) {
      process.stdout.write(JSON.stringify(status, null, 1) + '\n');
    } else {
      log(`waiting ${status.waiting}, active ${status.active}, completed ${status.completed}, failed ${status.failed}, delayed ${status.delayed}`);
      for (const f of status.failures) log(`failed ${f.input}: ${f.code}: ${f.message}`);
    }
    return status.failed > 0 ? EXIT_SOME_FAILED : 0;
  }
  const worker = await queue.createSalipWorker({
    ...connection,
    concurrency: o.concurrency as number,
    threads: o.threads as number | undefined,
    onOutcome: (outcome) => {
      progress.finish();
      log(`${outcome.status} ${outcome.input}${outcome.code ? `: ${outcome.code}: ${outcome.message}` : ''}`);
    },
  });
  log(`worker on ${connection.redis} (queue ${connection.queueName}): ${worker.slots} slot(s); SIGTERM finishes the current job and exits`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      done();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await worker.close();
  return 0;
}
