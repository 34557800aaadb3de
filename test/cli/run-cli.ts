/** Runs the CLI in-process with --quiet; its exit code and what it wrote to stderr. */
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';

export async function runQuietCli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(main, [...argv, '--quiet'], { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
  return { code, err };
}
