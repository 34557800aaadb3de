/**
 * Without the optional DICOM packages the CLI fails with MISSING_DEPENDENCY naming them (the
 * DICOM entry point is made unloadable here, as it is when dicom-parser is not installed).
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { main } from '../../src/cli/main.js';
import { pydicomCorpusDir } from '../io/dicom/tools.js';

vi.mock('../../src/dicom.js', () => {
  throw new Error("Cannot find package 'dicom-parser' imported from dist/dicom.js");
});

describe('DICOM without its packages', () => {
  it('names the package to install; PNG/NIfTI paths do not need it', async () => {
    let err = '';
    const code = await runCli(main, ['segment', join(pydicomCorpusDir(), 'CT_small.dcm'), '--task', 'lungs-cxr', '--quiet'], { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
    expect(code).not.toBe(0);
    expect(err).toMatch(/MISSING_DEPENDENCY: .*dicom-parser.*npm install dicom-parser dcmjs/);
    // A PNG input never reaches for the DICOM module: its own error comes first.
    err = '';
    await runCli(main, ['segment', join(pydicomCorpusDir(), 'no-such.png'), '--task', 'lungs-cxr', '--quiet'], { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
    expect(err).toMatch(/FILE_NOT_FOUND/);
  });
});
