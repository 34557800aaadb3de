import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { CLI_SPEC } from '../../src/cli/main.js';
import { clipConfigFromFlags, salipFromFlags, samConfigFromFlags } from '../../src/cli/models.js';
import { fakeSamEncoder, fakeSingleMaskDecoder } from '../helpers/sam-fake-models.js';

let dir: string;
let models: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-cli-models-'));
  writeFileSync(join(dir, 'encoder.onnx'), fakeSamEncoder());
  writeFileSync(join(dir, 'decoder.onnx'), fakeSingleMaskDecoder());
  models = ['--sam-preset', 'sam', '--sam-encoder', join(dir, 'encoder.onnx'), '--sam-decoder', join(dir, 'decoder.onnx')];
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The options `salip everything image.png <flags>` parses to. */
function optionsOf(flags: string[]) {
  const parsed = parseCommandLine(['everything', 'image.png', '--json', 'records.json', ...models, ...flags], CLI_SPEC);
  if (parsed.kind !== 'run') throw new Error(`expected a command to run, got ${parsed.kind}`);
  return parsed.options;
}

describe('CLI model flags: --no-worker and --prompts-per-run', () => {
  it('by default judges masks in a worker and decodes one point per run', async () => {
    const salip = await salipFromFlags(optionsOf([]));
    try {
      expect(salip.candidateMaker.concurrent).toBe(true);
      expect(salip.promptsPerRun).toBe(1);
    } finally {
      await salip.dispose();
    }
  });

  it('--no-worker keeps the judging on the calling thread; --prompts-per-run sets the exact-mode batch', async () => {
    const salip = await salipFromFlags(optionsOf(['--no-worker', '--prompts-per-run', '8']));
    try {
      expect(salip.candidateMaker.concurrent).toBe(false);
      expect(salip.promptsPerRun).toBe(8);
    } finally {
      await salip.dispose();
    }
  });

  it('refuses a prompts-per-run below 1 or not whole, and a value given to --no-worker, naming the flag', () => {
    for (const [flags, fragment] of [
      [['--prompts-per-run', '0'], '--prompts-per-run'],
      [['--prompts-per-run', '2.5'], '--prompts-per-run'],
      [['--no-worker=yes'], '--no-worker'],
    ] as const) {
      expect(() => optionsOf([...flags])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(fragment) }));
    }
  });
});

describe('CLI model flags: --sam-preset', () => {
  it('names the family from the files when --sam-preset is left out, and takes every family by name', () => {
    const files = ['--sam-encoder', join(dir, 'encoder.onnx'), '--sam-decoder', join(dir, 'decoder.onnx')];
    const parse = (flags: string[]) => {
      const parsed = parseCommandLine(['everything', 'image.png', '--json', 'records.json', ...flags], CLI_SPEC);
      if (parsed.kind !== 'run') throw new Error(`expected a command to run, got ${parsed.kind}`);
      return samConfigFromFlags(parsed.options);
    };
    expect(parse(files).preset).toBe('auto');
    for (const preset of ['litemedsam', 'efficientsam', 'edgesam', 'sam2', 'medsam2', 'sammed2d']) {
      expect(parse(['--sam-preset', preset, ...files]).preset).toBe(preset);
    }
    expect(() => parse(['--sam-preset', 'sam3', ...files])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('CLI model flags: --clip-folder', () => {
  const parse = (flags: string[]) => {
    const parsed = parseCommandLine(['everything', 'image.png', '--json', 'records.json', ...flags], CLI_SPEC);
    if (parsed.kind !== 'run') throw new Error(`expected a command to run, got ${parsed.kind}`);
    return clipConfigFromFlags(parsed.options);
  };
  it('takes a transformers.js folder with --clip-preset hf instead of tower files', () => {
    expect(parse(['--clip-preset', 'hf', '--clip-folder', '/models/clip'])).toMatchObject({ preset: 'hf', folder: '/models/clip', vision: undefined, text: undefined });
  });
  it('refuses a folder with another preset, and no files at all', () => {
    expect(() => parse(['--clip-preset', 'openai', '--clip-folder', '/models/clip'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--clip-folder goes with --clip-preset hf') }));
    expect(() => parse(['--clip-preset', 'hf'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--clip-folder') }));
  });
});
