/**
 * salip quantize IN.onnx OUT.onnx: writes a dynamically quantized (int8) copy of a SAM or CLIP
 * export, as `quantize: true` would use it.
 */
import { resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import { readFileBytes, writeFileAtomic } from '../../backends/node-files.js';
import { quantizeModel, type QuantizedWeightType } from '../../models/graph/quantize.js';
import type { CommandSpec } from '../args.js';
import { OUTPUT_FLAGS, checkOutputPath, type Options } from './shared.js';

export const QUANTIZE_COMMAND: CommandSpec = {
  name: 'quantize',
  summary: 'write an int8 copy of an ONNX model (MatMul/Gemm weights per channel, activations at run time)',
  positionals: [
    { name: 'input', description: 'ONNX model (.onnx)' },
    { name: 'output', description: 'where to write the quantized model' },
  ],
  flags: {
    'keep-float': { type: 'string', valueName: '<node,node,...>', description: "comma-separated node names to keep in float (besides a SAM decoder's token-side products, always float)" },
    'min-weight-elements': { type: 'integer', min: 1, description: 'weights smaller than this stay float (default 4096)' },
    'quantize-token-side': { type: 'boolean', description: "quantize a SAM decoder's token-side products too (SAM_DECODER_KEEP_FLOAT; faster by nothing measurable, costs Dice: docs/performance.md)" },
    'weight-type': { type: 'string', choices: ['uint8', 'int8'], description: "how weights are stored (default uint8: exact on every CPU; int8 is faster on CPUs with VNNI and saturates on x86 CPUs without it: docs/performance.md)" },
    'reduce-range': { type: 'boolean', description: 'quantize weights to 7 bits (what keeps int8 weights from saturating on CPUs without VNNI; costs precision)' },
    ...OUTPUT_FLAGS,
  },
  examples: ['salip quantize encoder.onnx encoder.int8.onnx', 'salip quantize sam.onnx sam.int8.onnx --keep-float /transformer/final_attn_token_to_image/k_proj/MatMul'],
};

export async function runQuantize(positionals: readonly string[], o: Options, log: (s: string) => void): Promise<number> {
  const [input, output] = positionals;
  const force = o.force === true;
  if (resolve(input) === resolve(output)) throw new SalipError('INVALID_ARGUMENT', `quantize: the output ${output} is the input; write the copy elsewhere`);
  checkOutputPath(output, 'output', force);
  const keepFloat = typeof o.keepFloat === 'string' ? o.keepFloat.split(',').map((n) => n.trim()).filter(Boolean) : undefined;
  const report = quantizeModel(await readFileBytes(input, 'ONNX model'), {
    keepFloat,
    minWeightElements: o.minWeightElements as number | undefined,
    keepFloatDefaults: o.quantizeTokenSide !== true,
    weightType: o.weightType as QuantizedWeightType | undefined,
    reduceRange: o.reduceRange === true,
  });
  await writeFileAtomic(output, report.bytes, { force });
  const mb = (n: number) => (n / 1e6).toFixed(1);
  log(`quantized ${report.quantized.length} nodes (weights ${mb(report.weightBytes.before)} MB -> ${mb(report.weightBytes.after)} MB); kept in float: ${report.kept.length}`);
  for (const k of report.kept) log(`  ${k.op} ${k.name}: ${k.reason}`);
  log(`wrote ${output}`);
  return 0;
}
