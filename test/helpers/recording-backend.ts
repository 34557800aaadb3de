/**
 * A node backend that records every run's feeds and requested outputs, every dispose, and the
 * raw sessions it loaded (for their declared inputs/outputs), plus the SalipError assertion the
 * adapter tests share.
 */
import { expect } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import type { Backend, ModelSession, TensorData } from '../../src/backends/types.js';
import { isSalipError } from '../../src/core/errors.js';

export interface RunLog {
  label: string;
  feeds: Record<string, TensorData>;
  outputs?: readonly string[];
}

export function recordingBackend() {
  const inner = nodeBackend({ intraOpThreads: 1 });
  const runs: RunLog[] = [];
  const disposed: string[] = [];
  const sessions: ModelSession[] = [];
  const backend: Backend = {
    name: 'recording',
    readBytes: (source) => inner.readBytes(source),
    async loadModel(source, options) {
      const session = await inner.loadModel(source, options);
      sessions.push(session);
      const wrapped: ModelSession = {
        label: session.label,
        inputs: session.inputs,
        outputs: session.outputs,
        run(feeds, outputs) {
          runs.push({ label: session.label, feeds, outputs });
          return session.run(feeds, outputs);
        },
        async dispose() {
          disposed.push(session.label);
          await session.dispose();
        },
      };
      return wrapped;
    },
  };
  const decodes = () => runs.filter((r) => r.label === 'SAM decoder');
  return { backend, runs, disposed, sessions, decodes };
}

/** Awaits a rejection: a SalipError with `code` whose message contains every fragment. */
export async function expectCode(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSalipError(error), `expected SalipError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
}
