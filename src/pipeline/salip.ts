/**
 * createSalip(): wires the SAM and CLIP adapters and the stage functions into the SaLIP
 * cascade. It owns the model sessions, serialises calls on one instance (each call runs the
 * models one prompt at a time, and two calls in parallel would only compete for the same cores)
 * and keeps every stage's output in the result for provenance.
 */
import { SalipError, describeValue } from '../core/errors.js';
import { assertRgbImage, resizeImage } from '../core/image.js';
import type { BinaryMask, BoxXYXY, RgbImage } from '../core/types.js';
import type { Backend } from '../backends/types.js';
import { createClipModel, type ClipConfig, type ClipModel } from '../models/clip/clip.js';
import { createSamModel, type SamConfig } from '../models/sam/sam.js';
import { createClipTextScorer, createExemplarScorer, type ClassSpec, type ScoreTable, type Scorer } from './scorers.js';
import { runCascade } from './cascade.js';
import type { RetrievedCandidate } from './stages/retrieve.js';
import type { RescoredClass } from './stages/rescore.js';
import { threadCandidateMaker, workerCandidateMaker, type CandidateMaker } from './stages/candidate-makers.js';
import { segmentEverything, type SegmentEverythingOptions, type SegmentEverythingStats, type ResolvedSegmentEverythingOptions } from './stages/segment-everything.js';
import { segmentWithBoxes, segmentWithPrompts, type PromptedMask, type PromptedOptions, type PromptedResult } from './stages/prompted.js';
import type { StageControl } from './stages/options.js';
import { resolveTask, type SalipTask } from './tasks.js';
import type { MaskRecord, SamImageEmbedding, SamModel, SamPrompt } from './types.js';

export interface SalipOptions {
  /** The inference runtime (nodeBackend() from 'salip/node', webBackend() from 'salip/web'). */
  backend: Backend;
  /** A SAM-family model: its configuration (preset + files) or an adapter you created. */
  sam: SamConfig | SamModel;
  /** A CLIP-family model for text prompts: configuration or adapter. Optional with exemplars. */
  clip?: ClipConfig | ClipModel;
  /** A scorer that replaces the built-in choice (CLIP text / exemplar) for every task. */
  scorer?: Scorer;
  /**
   * Judge segment-everything's masks in a worker thread beside the model calls, when the backend
   * can start one (default true). Exact mode then keeps decoding while the masks of earlier
   * points are upscaled and encoded: same candidates, less wall time. false keeps all work on
   * the calling thread.
   */
  workers?: boolean;
  /**
   * Grid points segment-everything's exact mode decodes per decoder run. Default: 64 when the
   * backend says batches pay (`batchedPrompts`, a GPU provider first) and the SAM model has
   * decodeBatch, else 1. A task's `everything.promptsPerRun` wins.
   */
  promptsPerRun?: number;
}

export interface SalipClassResult {
  /** The final mask at the input image's size. */
  readonly mask: BinaryMask;
  /** The retrieved candidates (indices refer to SalipResult.retrieval.pool), best first. */
  readonly chosen: RetrievedCandidate[];
  /** One refined mask per chosen candidate, at the input image's size. */
  readonly parts: PromptedMask[];
  /** The scorer's score of each chosen part after refinement (NaN when only the winners were refined). */
  readonly refinedScores: number[];
  /** Every candidate refined for the class (the task's refine.candidates) and how it scored refined. */
  readonly considered: RescoredClass['considered'];
}

export interface SalipTimings {
  resize: number;
  encoder: number;
  segmentEverything: number;
  proposals: number;
  retrieve: number;
  refine: number;
  total: number;
}

export interface SalipResult {
  readonly task: string;
  readonly imageSize: { width: number; height: number };
  /** Size the cascade ran at (the task's workingSize, or the image size). */
  readonly workingSize: { width: number; height: number };
  /** Per class: final mask, chosen candidates, refined parts. */
  readonly classes: Record<string, SalipClassResult>;
  /**
   * The whole candidate pool (RLE, at the working size): segment-everything's records, then the
   * exemplar-guided proposals; each record's `proposer` says which made it.
   */
  readonly pool: MaskRecord[];
  readonly retrieval: {
    /** Candidates that were scored, and their index in `pool`. */
    readonly pool: MaskRecord[];
    readonly poolIndex: number[];
    readonly removed: Array<{ index: number; reason: string }>;
    /** Full score table (class-major). */
    readonly table: ScoreTable;
  };
  readonly everything: { options: ResolvedSegmentEverythingOptions; stats: SegmentEverythingStats };
  /** Decoder runs per stage (segment-everything, proposals, refinement). */
  readonly decoderCalls: { everything: number; proposals: number; refine: number };
  /** Milliseconds per stage. */
  readonly timings: SalipTimings;
}

export interface Salip {
  readonly sam: SamModel;
  readonly clip?: ClipModel;
  /**
   * Where this instance judges segment-everything's masks (a worker unless `workers: false` or
   * the backend has none); pass it as `candidateMaker` when calling segmentEverything yourself.
   */
  readonly candidateMaker: CandidateMaker;
  /** Grid points decoded per run in exact mode unless a task says otherwise (see SalipOptions). */
  readonly promptsPerRun: number;
  /** Runs the cascade on one image for a task (a preset name or a task object). */
  segment(image: RgbImage, task: SalipTask | string, control?: StageControl): Promise<SalipResult>;
  /** Stage 1 alone (at the image's own size). */
  segmentEverything(image: RgbImage, options?: SegmentEverythingOptions): Promise<{ records: MaskRecord[]; embedding: SamImageEmbedding; stats: SegmentEverythingStats }>;
  /** Box-prompted SAM: one mask per box plus the union. */
  segmentWithBoxes(image: RgbImage, boxes: readonly BoxXYXY[], options?: PromptedOptions): Promise<PromptedResult>;
  /** Prompted SAM with any prompts (points and/or boxes). */
  segmentWithPrompts(image: RgbImage, prompts: readonly SamPrompt[], options?: PromptedOptions): Promise<PromptedResult>;
  /** The scorer the cascade would use for a task. */
  scorerFor(task: SalipTask | string): Scorer;
  /** Releases the model sessions created by createSalip; later calls fail with DISPOSED. */
  dispose(): Promise<void>;
}

function isSamModel(value: SamConfig | SamModel): value is SamModel {
  return typeof (value as SamModel).decode === 'function';
}

function isClipModel(value: ClipConfig | ClipModel): value is ClipModel {
  return typeof (value as ClipModel).embedImages === 'function';
}

/** Prompts per decoder run where batches pay: segment-anything's points_per_batch. */
const BATCHED_PROMPTS_PER_RUN = 64;

/** Loads the models and returns a Salip instance. */
export async function createSalip(options: SalipOptions): Promise<Salip> {
  if (!options || typeof options !== 'object') throw new SalipError('INVALID_ARGUMENT', 'createSalip: expected an options object');
  if (!options.backend || typeof options.backend.loadModel !== 'function') {
    throw new SalipError('INVALID_ARGUMENT', 'createSalip: options.backend must be a Backend (nodeBackend() from salip/node or webBackend() from salip/web)');
  }
  if (!options.sam) throw new SalipError('INVALID_ARGUMENT', 'createSalip: options.sam is required (a SAM config or model)');
  const owned: Array<{ dispose(): Promise<void> }> = [];
  const sam = isSamModel(options.sam) ? options.sam : await createSamModel(options.backend, options.sam);
  if (!isSamModel(options.sam)) owned.push(sam);
  let clip: ClipModel | undefined;
  try {
    if (options.clip) {
      clip = isClipModel(options.clip) ? options.clip : await createClipModel(options.backend, options.clip);
      if (!isClipModel(options.clip)) owned.push(clip);
    }
  } catch (err) {
    await Promise.all(owned.map((m) => m.dispose()));
    throw err;
  }
  if (options.workers !== undefined && typeof options.workers !== 'boolean') {
    await Promise.all(owned.map((m) => m.dispose()));
    throw new SalipError('INVALID_ARGUMENT', `createSalip: options.workers: expected a boolean, got ${describeValue(options.workers)}`);
  }
  const promptsPerRun = options.promptsPerRun ?? (options.backend.batchedPrompts && typeof sam.decodeBatch === 'function' ? BATCHED_PROMPTS_PER_RUN : 1);
  if (!Number.isInteger(promptsPerRun) || promptsPerRun < 1 || (promptsPerRun > 1 && typeof sam.decodeBatch !== 'function')) {
    await Promise.all(owned.map((m) => m.dispose()));
    throw new SalipError(
      'INVALID_ARGUMENT',
      `createSalip: options.promptsPerRun: expected an integer >= 1 (above 1 only with a SAM model that has decodeBatch), got ${describeValue(options.promptsPerRun)}`,
    );
  }
  const candidateMaker = options.workers === false ? threadCandidateMaker() : workerCandidateMaker(options.backend);
  owned.push(candidateMaker);
  return new SalipInstance(sam, clip, options.scorer, owned, candidateMaker, promptsPerRun);
}

class SalipInstance implements Salip {
  private disposed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Per class list, the scorer for each exemplar-scoring setting (JSON of the options). */
  private readonly scorers = new WeakMap<ClassSpec[], Map<string, Scorer>>();
  private readonly textScorers = new Map<string, Scorer>();

  constructor(
    readonly sam: SamModel,
    readonly clip: ClipModel | undefined,
    private readonly customScorer: Scorer | undefined,
    private readonly owned: Array<{ dispose(): Promise<void> }>,
    readonly candidateMaker: CandidateMaker,
    readonly promptsPerRun: number,
  ) {}

  /** Runs calls one after another; a failed call does not block the next. */
  private exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      this.assertAlive(what);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.queue.then(() => {
      this.assertAlive(what);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private assertAlive(what: string): void {
    if (this.disposed) throw new SalipError('DISPOSED', `${what}: this Salip instance was disposed`);
  }

  scorerFor(taskOrName: SalipTask | string): Scorer {
    const task = resolveTask(taskOrName);
    if (this.customScorer) return this.customScorer;
    const settingKey = JSON.stringify(task.exemplarScoring ?? {});
    let byClasses = this.scorers.get(task.classes);
    if (!byClasses) this.scorers.set(task.classes, (byClasses = new Map()));
    const cached = byClasses.get(settingKey);
    if (cached) return cached;
    const exemplarClasses = task.classes.filter((c) => c.exemplars && c.exemplars.length > 0);
    const textClasses = task.classes.filter((c) => !(c.exemplars && c.exemplars.length > 0));
    if (textClasses.length > 0 && !this.clip) {
      throw new SalipError(
        'INVALID_TASK',
        `task '${task.name}': class '${textClasses[0].name}' is described by text prompts, but no CLIP model was configured; give createSalip a clip config or describe the class by exemplars`,
      );
    }
    let scorer: Scorer;
    const mode = task.visualPrompt ?? 'crops';
    const textScorer = () => {
      let s = this.textScorers.get(mode);
      if (!s) {
        s = createClipTextScorer(this.clip!, { mode });
        this.textScorers.set(mode, s);
      }
      return s;
    };
    if (exemplarClasses.length === 0) scorer = textScorer();
    else {
      const exemplarScorer = createExemplarScorer(this.sam, Object.fromEntries(exemplarClasses.map((c) => [c.name, c.exemplars!])), task.exemplarScoring);
      scorer = textClasses.length === 0 ? exemplarScorer : combineScorers(textScorer(), exemplarScorer, new Set(exemplarClasses.map((c) => c.name)));
    }
    byClasses.set(settingKey, scorer);
    return scorer;
  }

  segment(image: RgbImage, taskOrName: SalipTask | string, control: StageControl = {}): Promise<SalipResult> {
    return this.exclusive('segment', () => {
      assertOptions(control, 'segment: control');
      return this.runCascade(image, resolveTask(taskOrName), control);
    });
  }

  private async runCascade(image: RgbImage, task: SalipTask, control: StageControl): Promise<SalipResult> {
    assertRgbImage(image, 'segment: image');
    const t0 = now();
    const scorer = this.scorerFor(task);
    const working = task.workingSize ? resizeImage(image, task.workingSize, task.workingSize, 'bilinear') : image;
    const t1 = now();
    control.onProgress?.({ stage: 'encoder', done: 0, total: 1 });
    const embedding = await this.sam.embed(working, { signal: control.signal });
    control.onProgress?.({ stage: 'encoder', done: 1, total: 1 });
    const t2 = now();
    const run = await runCascade({ sam: this.sam, scorer, candidateMaker: this.candidateMaker, promptsPerRun: this.promptsPerRun }, working, task, {
      embedding,
      outputWidth: image.width,
      outputHeight: image.height,
      onProgress: control.onProgress,
      signal: control.signal,
    });
    const classes: Record<string, SalipClassResult> = {};
    for (const cls of task.classes) {
      const c = run.classes[cls.name];
      classes[cls.name] = {
        mask: c.mask,
        chosen: c.chosen.map((p) => p.source),
        parts: c.chosen.map((p) => p.part),
        refinedScores: c.chosen.map((p) => p.refinedScore),
        considered: c.considered,
      };
    }
    const r = run.retrieval;
    return {
      task: task.name,
      imageSize: { width: image.width, height: image.height },
      workingSize: { width: working.width, height: working.height },
      classes,
      pool: run.pool,
      retrieval: { pool: r.pool, poolIndex: r.poolIndex, removed: r.removed, table: r.table },
      everything: run.everything,
      decoderCalls: run.decoderCalls,
      timings: { resize: t1 - t0, encoder: t2 - t1, ...run.timings, total: now() - t0 },
    };
  }

  segmentEverything(image: RgbImage, options: SegmentEverythingOptions = {}) {
    return this.exclusive('segmentEverything', async () => {
      assertRgbImage(image, 'segmentEverything: image');
      assertOptions(options, 'segmentEverything: options');
      const r = await segmentEverything(this.sam, image, { candidateMaker: this.candidateMaker, promptsPerRun: this.promptsPerRun, ...options });
      return { records: r.records, embedding: r.embedding, stats: r.stats };
    });
  }

  segmentWithBoxes(image: RgbImage, boxes: readonly BoxXYXY[], options: PromptedOptions = {}) {
    return this.exclusive('segmentWithBoxes', () => {
      assertRgbImage(image, 'segmentWithBoxes: image');
      return segmentWithBoxes(this.sam, image, boxes, options);
    });
  }

  segmentWithPrompts(image: RgbImage, prompts: readonly SamPrompt[], options: PromptedOptions = {}) {
    return this.exclusive('segmentWithPrompts', () => {
      assertRgbImage(image, 'segmentWithPrompts: image');
      return segmentWithPrompts(this.sam, image, prompts, options);
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue;
    await Promise.all(this.owned.map((m) => m.dispose()));
  }
}

/** Scores exemplar classes with one scorer and the others with another, in the task's class order. */
function combineScorers(text: Scorer, exemplar: Scorer, exemplarNames: Set<string>): Scorer {
  return {
    name: `${text.name}+${exemplar.name}`,
    async score(ctx) {
      const textClasses = ctx.classes.filter((c) => !exemplarNames.has(c.name));
      const exClasses = ctx.classes.filter((c) => exemplarNames.has(c.name));
      const [a, b] = await Promise.all([text.score({ ...ctx, classes: textClasses }), exemplar.score({ ...ctx, classes: exClasses })]);
      const n = ctx.candidates.length;
      const scores = new Float32Array(ctx.classes.length * n);
      ctx.classes.forEach((c, i) => {
        const from = exemplarNames.has(c.name) ? b : a;
        const j = from.classNames.indexOf(c.name);
        scores.set(from.scores.subarray(j * n, (j + 1) * n), i * n);
      });
      return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
    },
  };
}

/** Options objects may be left out (undefined takes the defaults) but not replaced by null or a primitive. */
function assertOptions(options: unknown, what: string): void {
  if (options === null || typeof options !== 'object') {
    throw new SalipError('INVALID_ARGUMENT', `${what}: expected an options object, got ${describeValue(options)}`);
  }
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

