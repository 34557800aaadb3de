/**
 * The int8 decoder's matrix products by role in SAM's two-way transformer, for the benches that
 * compare keeping some of them float (bench/quantize-sensitivity.ts, bench/cascade-variants.ts).
 * "tokens": run on the ~7 prompt and output tokens; "image": on the 4096 image tokens or pixels.
 */
import { readFileSync } from 'node:fs';
import { quantizeModel } from '../src/models/graph/quantize.js';
import { carryChannelsLast } from '../src/models/graph/channels-last.js';
import { prepareSamDecoder } from '../src/models/sam/graph-edit.js';

export const TOKEN_SIDE: RegExp[] = [
  /self_attn\//,
  /cross_attn_token_to_image\/(q_proj|out_proj)\//,
  /mlp\//,
  /cross_attn_image_to_token\/(k_proj|v_proj)\//,
  /final_attn_token_to_image\/(q_proj|out_proj)\//,
  /output_hypernetworks_mlps/,
  /iou_prediction_head/,
];

/** Group name -> node-name patterns kept float. */
export const DECODER_GROUPS: Record<string, RegExp[]> = {
  'none (all int8)': [],
  'self-attn (tokens)': [/self_attn\//],
  'token->image q,out (tokens)': [/\/cross_attn_token_to_image\/(q_proj|out_proj)\//],
  'token->image k,v (image)': [/\/cross_attn_token_to_image\/(k_proj|v_proj)\//],
  'mlp (tokens)': [/mlp\//],
  'image->token k,v (tokens)': [/cross_attn_image_to_token\/(k_proj|v_proj)\//],
  'image->token q,out (image)': [/cross_attn_image_to_token\/(q_proj|out_proj)\//],
  'final attn q,out (tokens)': [/final_attn_token_to_image\/(q_proj|out_proj)\//],
  'final attn k,v (image)': [/final_attn_token_to_image\/(k_proj|v_proj)\//],
  'hypernetwork mlps': [/output_hypernetworks_mlps/],
  'iou head': [/iou_prediction_head/],
  upscaling: [/^salip_cl\d+_matmul$/],
  'token side, all': TOKEN_SIDE,
  'token side + upscaling': [...TOKEN_SIDE, /^salip_cl\d+_matmul$/],
  'all out_proj': [/out_proj\//],
  'whole decoder': [/./],
};

/** Names of the products quantizeModel would turn to int8 in the loaded (edited, channels-last) decoder. */
export function decoderProductNames(decoderPath: string): string[] {
  const edited = prepareSamDecoder(readFileSync(decoderPath), { exposeMultimask: true, dropOutputs: ['masks'] }).bytes;
  return quantizeModel(carryChannelsLast(edited).bytes).quantized;
}

/** The names of `all` a group keeps float. */
export function groupNames(group: string, all: readonly string[]): string[] {
  const patterns = DECODER_GROUPS[group];
  if (!patterns) throw new Error(`unknown group '${group}': one of ${Object.keys(DECODER_GROUPS).join('; ')}`);
  return all.filter((n) => patterns.some((p) => p.test(n)));
}
