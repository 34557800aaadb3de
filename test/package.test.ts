/**
 * The built package as users get it: ESM and CJS entry points of salip, salip/node and
 * salip/web resolve through package.json "exports", carry type declarations, and the Node
 * build runs MobileSAM; the CLI binary starts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, dataPath, taskImageNames } from './helpers/data.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
}

describe('built package', () => {
  it('has ESM, CJS and declarations for every entry point named in exports', () => {
    for (const entry of ['.', './node', './web', './queue', './dicom']) {
      const e = pkg.exports[entry];
      for (const file of [e.import.default, e.import.types, e.require.default, e.require.types]) {
        expect(existsSync(join(REPO_ROOT, file)), `${entry}: ${file}`).toBe(true);
      }
    }
  });

  it('loads through the package name in ESM and CJS and segments with a box', () => {
    const image = dataPath('lung_xray', 'images', taskImageNames('lung_xray')[0]);
    const esm = `
      import { createSalip, nodeBackend, defaultSamFiles, readImageFile, resizeImage, maskArea } from 'salip/node';
      const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
      const image = resizeImage(await readImageFile(${JSON.stringify(image)}), 256, 256);
      const r = await salip.segmentWithBoxes(image, [[30, 40, 120, 200]]);
      console.log(JSON.stringify({ area: maskArea(r.union), source: salip.sam.info.multimaskSource }));
      await salip.dispose();`;
    const out = JSON.parse(node(['--input-type=module', '-e', esm]).trim());
    expect(out.source).toBe('graph-edit');
    expect(out.area).toBeGreaterThan(1000);
    const cjs = `const s = require('salip'); const n = require('salip/node'); const w = require.resolve('salip/web');
      console.log(JSON.stringify({ core: typeof s.segmentEverything, backend: typeof n.nodeBackend, same: s.SalipError === n.SalipError, web: w.endsWith('web.cjs') }));`;
    expect(JSON.parse(node(['-e', cjs]).trim())).toEqual({ core: 'function', backend: 'function', same: true, web: true });
  });

  it('keeps Node built-ins out of the browser entry', () => {
    const web = readFileSync(join(REPO_ROOT, 'dist', 'web.js'), 'utf8');
    const chunks = [...web.matchAll(/from ['"]\.\/(chunk-[\w-]+\.js)['"]/g)].map((m) => readFileSync(join(REPO_ROOT, 'dist', m[1]), 'utf8'));
    for (const code of [web, ...chunks]) {
      expect(code).not.toMatch(/from ['"](node:)?(fs|fs\/promises|path|zlib|crypto|module|url|onnxruntime-node)['"]/);
    }
  });

  it('keeps bullmq (an optional peer dependency) out of salip, salip/node and salip/web; salip/queue loads it', () => {
    const importsOf = (file: string, seen = new Set<string>()): string[] => {
      if (seen.has(file)) return [];
      seen.add(file);
      const code = readFileSync(join(REPO_ROOT, 'dist', file), 'utf8');
      const chunks = [...code.matchAll(/(?:from|import\(|require\()\s*['"]\.\/([\w.-]+\.c?js)['"]/g)].map((m) => m[1]);
      return [code, ...chunks.flatMap((c) => importsOf(c, seen))];
    };
    for (const entry of ['index.js', 'index.cjs', 'node.js', 'node.cjs', 'web.js', 'web.cjs']) {
      for (const code of importsOf(entry)) expect(code, entry).not.toMatch(/['"]bullmq['"]/);
    }
    expect(importsOf('queue.js').some((code) => /from ['"]bullmq['"]/.test(code))).toBe(true);
    const esm = `import { createSalipWorker, enqueue, queueStatus } from 'salip/queue'; console.log([typeof createSalipWorker, typeof enqueue, typeof queueStatus].join())`;
    expect(node(['--input-type=module', '-e', esm]).trim()).toBe('function,function,function');
    expect(pkg.peerDependenciesMeta.bullmq.optional).toBe(true);
  });

  it('keeps the DICOM packages out of salip and salip/web (only salip/dicom and the CLI loads them, on demand)', () => {
    const dicomPackages = /from ['"](dicom-parser|dcmjs|jpeg-lossless-decoder-js|@cornerstonejs\/codec-[\w-]+)(\/[\w-]+)?['"]|require\(['"](dicom-parser|dcmjs)['"]\)/;
    for (const entry of ['index.js', 'index.cjs', 'web.js', 'web.cjs', 'node.js']) {
      const code = readFileSync(join(REPO_ROOT, 'dist', entry), 'utf8');
      const chunks = [...code.matchAll(/from ['"]\.\/(chunk-[\w-]+\.js)['"]/g)].map((m) => readFileSync(join(REPO_ROOT, 'dist', m[1]), 'utf8'));
      for (const c of [code, ...chunks]) expect(c, entry).not.toMatch(dicomPackages);
    }
    expect(readFileSync(join(REPO_ROOT, 'dist', 'dicom.js'), 'utf8')).toMatch(dicomPackages);
    for (const name of ['dicom-parser', 'dcmjs']) expect(pkg.peerDependenciesMeta[name]).toEqual({ optional: true });
    const esm = `import { readDicom, writeDicomSeg, isDicomInput } from 'salip/dicom'; console.log([typeof readDicom, typeof writeDicomSeg, typeof isDicomInput].join())`;
    expect(node(['--input-type=module', '-e', esm]).trim()).toBe('function,function,function');
    expect(node(['-e', `console.log(typeof require('salip/dicom').readDicomSeries)`]).trim()).toBe('function');
  });

  it('ships a CLI that starts', () => {
    expect(node([join(REPO_ROOT, pkg.bin.salip), '--version']).trim()).toBe(pkg.version);
  });
});
