/**
 * The Debian tools the DICOM tests check against (installed by .ci/run): pydicom and nibabel
 * through /usr/bin/python3 and dicom-tools.py, dciodvfy (dicom3tools), img2dcm (dcmtk). They are
 * real dependencies: a missing tool fails the tests rather than skipping them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TOOLS = join(dirname(fileURLToPath(import.meta.url)), 'dicom-tools.py');
export const PYTHON = '/usr/bin/python3';

/** Runs a dicom-tools.py command; its stdout. */
export function pyTool(command: string, ...args: string[]): string {
  return execFileSync(PYTHON, [TOOLS, command, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Where python3-pydicom installed its test files. */
export function pydicomCorpusDir(): string {
  const code = "import os, pydicom.data; print(os.path.dirname(pydicom.data.get_testdata_file('CT_small.dcm')))";
  return execFileSync(PYTHON, ['-c', code], { encoding: 'utf8' }).trim();
}

/** dciodvfy's report: the lines that are errors (warnings are left out). */
export function dciodvfyErrors(file: string): { errors: string[]; report: string } {
  const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  if (run.error) throw run.error;
  const report = `${run.stdout}${run.stderr}`;
  return { errors: report.split('\n').filter((l) => /^Error/.test(l)), report };
}

/** img2dcm: a PNG/JPEG as DICOM of the given IOD (e.g. "dx", "us" via -k Modality and SC IOD). */
export function img2dcm(input: string, output: string, args: string[]): void {
  execFileSync('img2dcm', [...args, input, output], { stdio: ['ignore', 'pipe', 'pipe'] });
}
