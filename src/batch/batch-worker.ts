/**
 * Entry point of one `salip batch` worker process (forked by pool.ts): builds its own
 * processor (its own ONNX Runtime sessions) from the init message, then runs the jobs it is
 * sent one at a time and answers each with its outcome. Messages are defined in pool.ts.
 */
import { loadProcessor, type ProcessorHandle } from './cascade-processor.js';
import { describeFailure, runJobOnce } from './job.js';
import type { ParentMessage, WorkerMessage } from './pool.js';

let handle: ProcessorHandle | undefined;
let outDir = '';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

process.on('message', (message: ParentMessage) => {
  void handleMessage(message);
});
// The parent is gone (killed): stop at once rather than run on as an orphan. Outputs are
// written atomically and recorded after, so a rerun redoes at most the job under way.
process.on('disconnect', () => {
  if (!stopping) process.exit(1);
});
let stopping = false;

async function handleMessage(message: ParentMessage): Promise<void> {
  if (message.type === 'init') {
    try {
      outDir = message.outDir;
      handle = await loadProcessor(message.init, message.processorModule);
      send({ type: 'ready' });
    } catch (error) {
      send({ type: 'init-failed', ...describeFailure(error) });
    }
    return;
  }
  if (message.type === 'job') {
    const outcome = await runJobOnce(message.job, handle!.process, { outDir });
    send({ type: 'outcome', outcome });
    return;
  }
  stopping = true;
  await handle?.dispose().catch(() => undefined);
  // maxRSS is in kilobytes: the worker's own peak, what a machine must budget per worker.
  send({ type: 'stopped', peakRssMb: process.resourceUsage().maxRSS / 1024 });
  process.disconnect?.();
}
