/**
 * The local worker pool of `salip batch`: N child processes (node:child_process fork), each
 * with its own processor and so its own ONNX Runtime sessions, fed one job at a time from a
 * shared list. Processes rather than worker threads because ONNX Runtime holds native memory
 * and threads per session: a process isolates a native crash to its own input and reports its
 * own peak RSS, the figure a machine's worker count is planned by.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SalipError } from '../core/errors.js';
import type { ProcessorInit } from './cascade-processor.js';
import type { InputJob, JobOutcome } from './job.js';

export type ParentMessage =
  | { type: 'init'; init: ProcessorInit; outDir: string; processorModule?: string }
  | { type: 'job'; job: InputJob }
  | { type: 'stop' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-failed'; code: string; message: string }
  | { type: 'outcome'; outcome: JobOutcome }
  | { type: 'stopped'; peakRssMb: number };

export interface PoolOptions {
  readonly workers: number;
  readonly init: ProcessorInit;
  readonly outDir: string;
  /** A module exporting createProcessor(init) used instead of the cascade (see cascade-processor.ts). */
  readonly processorModule?: string;
  /** Called with every job's outcome, in completion order. */
  readonly onOutcome?: (outcome: JobOutcome) => void;
}

export interface PoolResult {
  readonly outcomes: JobOutcome[];
  /** Peak resident memory of each worker process that stopped normally, in MB. */
  readonly peakRssMb: number[];
}

/** The worker script next to this module: .ts under tsx/vitest, .js in the built package. */
function workerScript(): { path: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(ts ? './batch-worker.ts' : './batch-worker.js', import.meta.url));
  return { path, execArgv: ts ? ['--import', 'tsx'] : [] };
}

/** Runs `jobs` on a pool of worker processes; resolves when every job has an outcome. */
export async function runPool(jobs: readonly InputJob[], options: PoolOptions): Promise<PoolResult> {
  const pending = [...jobs];
  const outcomes: JobOutcome[] = [];
  const peakRssMb: number[] = [];
  const size = Math.max(1, Math.min(options.workers, jobs.length));
  let fatal: SalipError | undefined;

  const record = (outcome: JobOutcome) => {
    outcomes.push(outcome);
    options.onOutcome?.(outcome);
  };

  /** One worker process's life: start, take jobs until none are left, stop. Restarts after a crash. */
  const runWorker = async (): Promise<void> => {
    while (pending.length > 0 && !fatal) {
      const child = startChild();
      try {
        await request(child, { type: 'init', init: options.init, outDir: options.outDir, processorModule: options.processorModule }, (m) => {
          if (m.type === 'init-failed') throw new SalipError(m.code as never, m.message);
          return m.type === 'ready';
        });
      } catch (error) {
        fatal = error instanceof SalipError ? error : new SalipError('WORKER_FAILED', `a batch worker failed to start: ${(error as Error).message}`, { cause: error });
        child.kill();
        return;
      }
      let crashed = false;
      while (pending.length > 0 && !fatal) {
        const job = pending.shift()!;
        try {
          let outcome: JobOutcome | undefined;
          await request(child, { type: 'job', job }, (m) => m.type === 'outcome' && (outcome = m.outcome) !== undefined);
          record(outcome!);
        } catch (error) {
          // The process died on this input (a native crash, out of memory): the input fails alone.
          record({ input: job.input, output: job.output, status: 'failed', code: 'WORKER_FAILED', message: `worker process died while segmenting ${job.input}: ${(error as Error).message}`, written: false });
          crashed = true;
          break;
        }
      }
      if (!crashed) {
        await request(child, { type: 'stop' }, (m) => m.type === 'stopped' && peakRssMb.push(m.peakRssMb) > 0).catch(() => undefined);
        await exited(child);
      }
    }
  };

  await Promise.all(Array.from({ length: size }, runWorker));
  if (fatal) throw fatal;
  return { outcomes, peakRssMb };
}

function startChild(): ChildProcess {
  const { path, execArgv } = workerScript();
  return fork(path, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Sends a message and resolves on the first answer `accept` takes; rejects when the process exits first. */
function request(child: ChildProcess, message: ParentMessage, accept: (m: WorkerMessage) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      try {
        if (!accept(m)) return;
        cleanup();
        resolve();
      } catch (error) {
        cleanup();
        reject(error);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(signal ? `killed by ${signal}` : `exited with code ${code}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}

/** Resolves when the process has exited; one that lingers after its stop message is killed. */
function exited(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
