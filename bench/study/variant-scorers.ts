/**
 * Scorer variants tried in the study before any of them goes into src/pipeline/scorers.ts.
 *
 * 'edge' (projection contrast): w = the class direction from the exemplars (normalised mean of
 * the normalised (region - reference) features, reference = the image mean or the ring around the
 * exemplar mask); a candidate scores <region - ring, w>: how much more class-like its inside is
 * than its surroundings. Unlike a cosine, the projection is diluted when a candidate takes in
 * background (a superset), and the ring term is high when the candidate is a part of the organ.
 * Scores are scaled so that the exemplars' own mean value is 100.
 */
import { contextRingCoverage, imageCoverage, maskCoverage, pooledFeature, rleCoverage } from '../../src/core/pooling.js';
import { l2Normalize } from '../../src/core/similarity.js';
import type { Exemplar, Scorer } from '../../src/pipeline/scorers.js';
import type { SamModel } from '../../src/pipeline/types.js';

export function edgeScorer(sam: SamModel, reference: 'image-mean' | 'ring', ringCells = 3): Scorer {
  const protos = new WeakMap<Exemplar[], Promise<{ w: Float32Array; scale: number }>>();
  const protoOf = (list: Exemplar[]) => {
    let p = protos.get(list);
    if (!p) {
      p = (async () => {
        const dirs: Float32Array[] = [];
        const diffs: Float32Array[] = [];
        for (const ex of list) {
          const e = await sam.embed(ex.image);
          const cov = maskCoverage(e, ex.mask);
          const region = pooledFeature(e, cov);
          const ring = pooledFeature(e, contextRingCoverage(e, cov, ringCells));
          const ref = reference === 'ring' ? ring : pooledFeature(e, imageCoverage(e));
          dirs.push(l2Normalize(region.map((v, k) => v - ref[k])));
          diffs.push(region.map((v, k) => v - ring[k]));
        }
        const w = l2Normalize(dirs.reduce((acc, d) => acc.map((v, k) => v + d[k])));
        const scale = diffs.reduce((s, d) => s + d.reduce((a, v, k) => a + v * w[k], 0), 0) / diffs.length;
        return { w, scale };
      })();
      protos.set(list, p);
    }
    return p;
  };
  return {
    name: `edge:${reference}:${ringCells}`,
    async score(ctx) {
      const n = ctx.candidates.length;
      const scores = new Float32Array(ctx.classes.length * n);
      for (const [c, cls] of ctx.classes.entries()) {
        const { w, scale } = await protoOf(cls.exemplars!);
        const e = ctx.embedding!;
        ctx.candidates.forEach((r, i) => {
          const cov = rleCoverage(e, r.segmentation);
          const region = pooledFeature(e, cov);
          const ring = pooledFeature(e, contextRingCoverage(e, cov, ringCells));
          let s = 0;
          for (let k = 0; k < w.length; k++) s += (region[k] - ring[k]) * w[k];
          scores[c * n + i] = (100 * s) / scale;
        });
      }
      return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
    },
  };
}
