/**
 * The runtime-independent half of Backend.startWorker: the glue that turns a script's
 * `__salipWorker.handle` into replies, and request/reply bookkeeping over any message channel.
 */
import { SalipError } from '../core/errors.js';
import type { ScriptWorker } from './types.js';

/**
 * Appended to a worker script: answers every message with `{ ok, value }` or `{ ok: false, error }`.
 * `post` is defined by the runtime's preamble.
 */
export const WORKER_DISPATCH = `
function __salipDispatch(message) {
  let result;
  try {
    result = globalThis.__salipWorker.handle(message);
  } catch (error) {
    post({ ok: false, error: String((error && error.stack) || error) });
    return;
  }
  post({ ok: true, value: result.reply }, result.transfer || []);
}
`;

/** A message channel to a started worker, as each runtime offers it. */
export interface WorkerChannel {
  post(message: unknown, transfer: ArrayBuffer[]): void;
  /** Called with true while requests are pending, false when none are (Node: ref/unref). */
  setBusy?(busy: boolean): void;
  terminate(): Promise<void> | void;
}

/**
 * Request/reply over a worker channel. The returned `receive` and `fail` must be wired to the
 * channel's message and error events.
 */
export function requestReplyWorker(channel: WorkerChannel): {
  worker: ScriptWorker;
  receive(message: unknown): void;
  fail(error: unknown): void;
} {
  const pending: Array<{ resolve(value: unknown): void; reject(error: unknown): void }> = [];
  let failure: SalipError | undefined;
  const settle = () => channel.setBusy?.(pending.length > 0);
  const failAll = (error: SalipError) => {
    failure ??= error;
    for (const p of pending.splice(0)) p.reject(error);
    settle();
  };
  return {
    worker: {
      request(message, transfer = []) {
        if (failure) return Promise.reject(failure);
        return new Promise((resolve, reject) => {
          pending.push({ resolve, reject });
          settle();
          try {
            channel.post(message, [...transfer]);
          } catch (error) {
            pending.pop();
            settle();
            reject(new SalipError('WORKER_FAILED', `worker: the message could not be posted: ${String(error)}`, { cause: error }));
          }
        });
      },
      async terminate() {
        failAll(new SalipError('DISPOSED', 'worker: terminated'));
        await channel.terminate();
      },
    },
    receive(message) {
      const next = pending.shift();
      settle();
      if (!next) return;
      const reply = message as { ok?: boolean; value?: unknown; error?: string };
      if (reply?.ok === true) next.resolve(reply.value);
      else next.reject(new SalipError('WORKER_FAILED', `worker: the script failed: ${reply?.error ?? String(message)}`));
    },
    fail(error) {
      failAll(new SalipError('WORKER_FAILED', `worker: the thread failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    },
  };
}
