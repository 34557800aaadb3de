import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { SalipError } from '../../src/core/errors.js';

function harness() {
  const stderr: string[] = [];
  const exits: number[] = [];
  return { stderr, exits, io: { stderr: { write: (s: string) => stderr.push(s) }, exit: (code: number) => exits.push(code) } };
}

describe('runCli', () => {
  it('passes argv to main and exits with its status', async () => {
    const h = harness();
    let seen: string[] = [];
    const code = await runCli(async (argv) => ((seen = argv), 0), ['segment', 'x.png'], h.io);
    expect(seen).toEqual(['segment', 'x.png']);
    expect([code, h.exits, h.stderr]).toEqual([0, [0], []]);
    expect(await runCli(async () => 3, [], h.io)).toBe(3);
  });

  it('prints a SalipError as one line without a stack and exits 2', async () => {
    const h = harness();
    const code = await runCli(async () => {
      throw new SalipError('FILE_NOT_FOUND', 'image a.png does not exist');
    }, ['segment'], h.io);
    expect(code).toBe(2);
    expect(h.exits).toEqual([2]);
    expect(h.stderr.join('')).toBe('salip: FILE_NOT_FOUND: image a.png does not exist\n');
  });

  it('adds the stack and the cause chain of a SalipError with --debug', async () => {
    const h = harness();
    await runCli(async () => {
      throw new SalipError('DECODE_FAILED', 'x.png: corrupt', { cause: new Error('bad IDAT') });
    }, ['segment', '--debug'], h.io);
    const text = h.stderr.join('');
    expect(text.startsWith('salip: DECODE_FAILED: x.png: corrupt\n')).toBe(true);
    expect(text).toContain('SalipError: x.png: corrupt\n    at ');
    expect(text).toContain('Caused by: Error: bad IDAT');
  });

  it('does not take --debug after -- as the flag', async () => {
    const h = harness();
    await runCli(async () => {
      throw new SalipError('INVALID_ARGUMENT', 'bad');
    }, ['--', '--debug'], h.io);
    expect(h.stderr.join('')).toBe('salip: INVALID_ARGUMENT: bad\n');
  });

  it('prints the stack of any other error and exits 1', async () => {
    const h = harness();
    const code = await runCli(async () => {
      throw new TypeError('cannot read x of undefined');
    }, [], h.io);
    expect(code).toBe(1);
    expect(h.exits).toEqual([1]);
    const text = h.stderr.join('');
    expect(text).toContain('TypeError: cannot read x of undefined');
    expect(text).toMatch(/\n {4}at /);
  });

  it('reports a thrown non-Error value and a non-integer status as internal errors', async () => {
    const h = harness();
    expect(await runCli(async () => Promise.reject('just a string'), [], h.io)).toBe(1);
    expect(h.stderr.join('')).toContain('just a string');
    expect(await runCli(async () => NaN, [], h.io)).toBe(1);
  });

  it('sets process.exitCode when no exit function is injected', async () => {
    const before = process.exitCode;
    try {
      await runCli(async () => 0, [], { stderr: { write: () => true } });
      expect(process.exitCode).toBe(0);
      await runCli(async () => 7, [], { stderr: { write: () => true } });
      expect(process.exitCode).toBe(7);
    } finally {
      process.exitCode = before;
    }
  });
});
