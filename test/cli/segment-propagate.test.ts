/**
 * How `salip segment` turns --propagate[=k], --propagate-step and --no-propagate into
 * segmentVolume's propagate option, and how it reports where each slice's mask came from.
 */
import { describe, expect, it } from 'vitest';
import { propagateOption, provenanceNote } from '../../src/cli/commands/segment.js';
import type { VolumeSliceRecord } from '../../src/pipeline/volume.js';

describe('propagateOption', () => {
  it('leaves the default when no flag is given, and maps each flag', () => {
    expect(propagateOption({})).toBeUndefined();
    expect(propagateOption({ propagate: true })).toBe(true);
    expect(propagateOption({ propagate: false })).toBe(false);
    expect(propagateOption({ propagate: 8 })).toEqual({ step: 8 });
    expect(propagateOption({ propagateStep: 4 })).toEqual({ step: 4 });
    expect(propagateOption({ propagate: true, propagateStep: 4 })).toEqual({ step: 4 });
    expect(propagateOption({ propagate: 4, propagateStep: 4 })).toEqual({ step: 4 });
  });

  it('refuses flags that contradict each other, naming both', () => {
    expect(() => propagateOption({ propagate: false, propagateStep: 4 })).toThrow(/--propagate-step.*--no-propagate/);
    expect(() => propagateOption({ propagate: 8, propagateStep: 4 })).toThrow(/--propagate=8 and --propagate-step 4 disagree/);
  });
});

describe('provenanceNote', () => {
  const slices: VolumeSliceRecord[] = [
    { index: 0, skipped: true, reason: 'organ-ended' },
    { index: 1, skipped: false, source: 'propagation', from: 2 },
    { index: 2, skipped: false, source: 'cascade', score: 0.9 },
    { index: 3, skipped: false, source: 'propagation', from: 2 },
    { index: 4, skipped: false, source: 'cascade', score: 0.8, rerun: 'stability 0.700 < 0.85' },
  ];

  it('counts cascade, re-run and carried slices', () => {
    expect(provenanceNote(slices)).toBe(' (2 by the cascade, 1 of them because a carried mask looked lost, 2 carried from a neighbour)');
  });

  it('counts interpolated slices, and carried masks kept after a re-run as carried', () => {
    const more: VolumeSliceRecord[] = [
      ...slices,
      { index: 5, skipped: false, source: 'interpolation', from: 4, to: 6 },
      { index: 6, skipped: false, source: 'propagation', from: 4, rerun: "score 130.0 is 12.0 below the last cascade mask's > 10; kept, the cascade's mask scored 120.0" },
    ];
    expect(provenanceNote(more)).toBe(' (2 by the cascade, 1 of them because a carried mask looked lost, 3 carried from a neighbour, 1 interpolated between carried slices)');
  });

  it('says nothing for a volume segmented slice by slice', () => {
    expect(provenanceNote([{ index: 0, skipped: false, source: 'cascade' }])).toBe('');
  });
});
