/**
 * Tasks: what to segment (classes with prompt ensembles or exemplars, top-k), how (visual prompt
 * mode, area maximum, segment-everything parameters) and at which working size. Presets for the
 * three tasks of the paper.
 */
import { SalipError } from '../core/errors.js';
import { VISUAL_PROMPT_MODES, type VisualPromptMode } from '../core/prompts.js';
import { PROMPT_ENSEMBLES } from './prompt-ensembles.js';
import { MAX_CONTEXT_CELLS, type ClassSpec, type ExemplarScorerOptions, type Scorer } from './scorers.js';
import type { CandidateMaker } from './stages/candidate-makers.js';
import { SEGMENT_EVERYTHING_DEFAULTS } from './stages/everything-options.js';
import { PROPOSAL_DEFAULTS, type ProposalSettings } from './stages/proposals.js';
import type { RefineSettings } from './stages/refine.js';
import type { FastEverythingOptions, SegmentEverythingOptions } from './stages/segment-everything.js';
import type { SamImageEmbedding } from './types.js';

/** Segment-everything parameters as a task carries them (no callbacks). */
export type EverythingParams = Omit<SegmentEverythingOptions, 'onProgress' | 'signal' | 'embedding' | 'pointGrids' | 'candidateMaker'>;

export interface SalipTask {
  /** Name used in reports ('lungs-cxr', ...). */
  name: string;
  /** The classes to retrieve, each with prompts (CLIP) and/or exemplars, and topK. */
  classes: ClassSpec[];
  /** How CLIP sees a candidate (default 'crops'). */
  visualPrompt?: VisualPromptMode;
  /** Candidates with area at or above this (pixels at the working size) are dropped. */
  maxArea?: number;
  /** The area maximum as a fraction of the working image (used when maxArea is absent). */
  maxAreaFraction?: number;
  /** Segment-everything parameters (the reference defaults fill the rest). */
  everything?: EverythingParams;
  /**
   * Images are resized to workingSize x workingSize before the cascade, as the paper does with
   * 256 for 2-D tasks; final masks are returned at the input size. Absent: TASK_DEFAULTS'
   * 256; null: the image's own size (no resize).
   */
  workingSize?: number | null;
  /**
   * Proposals made from the exemplars that join the grid's pool (stages/proposals.ts); false
   * turns them off. Only classes described by exemplars get proposals.
   */
  proposals?: ProposalSettings | false;
  /**
   * Refinement: box passes per candidate, part clean-up, and how many retrieved candidates per
   * class are refined and re-scored (`candidates`; the class's topK refines the winners only).
   */
  refine?: RefineSettings & { candidates?: number };
  /** Options of the exemplar scorer the cascade builds for this task (stabilityWeight, locationWeight, ...). */
  exemplarScoring?: ExemplarScorerOptions;
}

/**
 * What a task that names only its classes gets: settings for medical images, not
 * segment-anything's natural-image defaults (32 x 32 points, predicted IoU 0.88, stability
 * 0.95, which throw away most of MobileSAM's masks on radiographs and ultrasound). Chosen on one
 * half of each development task and checked on the other half (docs/results.md).
 */
export const TASK_DEFAULTS = {
  workingSize: 256,
  maxAreaFraction: 0.76,
  everything: { pointsPerSide: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, boxNmsThresh: 0.7 },
  // Each exemplar's own box beside their mean: the organ's size varies between patients.
  proposals: { ...PROPOSAL_DEFAULTS, eachExemplarBox: true },
  // One box pass per candidate (more passes lost Dice on the heart), five candidates refined
  // with SAM's multi-mask alternatives and re-scored.
  refine: { iterations: 1, candidates: 5, multimaskAlternatives: true },
  // The shape prior: chosen on each half of the lungs and fetal heads (20-40 on lungs, 100 on
  // fetal heads, where candidates are often the brain inside the skull); 40 for any organ.
  // The boundary prior (outline contrast against the exemplars'): weight 10 was chosen on each
  // half of every dev task it was tried on (fetal heads, lungs, brain, heart), reported on the
  // other half; 20 and more lost on fetal heads.
  exemplarScoring: { stabilityWeight: 10, locationWeight: 20, shapeWeight: 40, boundaryWeight: 10 },
} as const satisfies Partial<SalipTask>;

/** The task's proposal settings, or undefined when they are off. */
export function taskProposals(task: SalipTask): ProposalSettings | undefined {
  return task.proposals === false ? undefined : { ...PROPOSAL_DEFAULTS, ...task.proposals };
}

/** The task's refinement settings (the paper's single pass of the winners when it gives none). */
export function taskRefinement(task: SalipTask): RefineSettings & { candidates?: number } {
  return task.refine ?? {};
}

/**
 * Task presets: the paper's three tasks with parameters chosen on our dev data (MobileSAM, 3
 * exemplars, every decoder output cached and the cascade replayed per setting; bench/study/,
 * docs/results.md). MobileSAM's logits are weak on ultrasound and X-ray, so good candidates often
 * have a low stability score: the stability filter is off for those two tasks and stability
 * instead ranks candidates inside the exemplar scorer (its `stabilityWeight`).
 */
export const TASK_PRESETS: Readonly<Record<'lungs-cxr' | 'fetal-head-us' | 'brain-mri' | 'heart-cxr', SalipTask>> = {
  'lungs-cxr': {
    name: 'lungs-cxr',
    classes: [{ name: 'lungs', prompts: [...PROMPT_ENSEMBLES.lungs], topK: 2 }],
    visualPrompt: 'crops',
    workingSize: 256,
    // No part is 40 % of a chest X-ray: a bound for text prompts (CLIP), where a candidate of both
    // lungs and the mediastinum can win. With exemplars it binds on no dev image (the same Dice at
    // 0.4, 0.61 and 0.76 on every half).
    maxAreaFraction: 0.4,
    // Segment-everything is TASK_DEFAULTS': each half of the dev set chose box NMS 0.5 or 0.7 over
    // the 0.25 an earlier version chose on every dev image, all within 0.001 (docs/results.md).
    // Each lung as the majority vote of the re-scored masks of it: chosen on each half of the dev
    // set, reported on the other (it lost on fetal heads, brain and heart, where it stays off).
    // MobileSAM's lung masks stop short of the faint outer and lower borders (the costophrenic
    // angles, the lateral wall): refined masks are cut below logit 0, first at -1. Each half chose a
    // lower cut (-1 and -1.5 among 0 to -3; 0.878 vs 0.874, 0.900 vs 0.890), reported 0.901 /
    // 0.871 (was 0.896 / 0.864; docs/results.md).
    // Five refined candidates dealt over two lungs leave the second lung two (and its leaks won);
    // each lung is one piece. Half 0 chose 12 candidates with the largest component (0.889 vs
    // 0.878), half 1 8 with it (0.902 vs 0.899), among 5 to 16 with and without; reported 0.904 /
    // 0.879 (was 0.901 / 0.871) at 292 decoder runs per image (was 278; docs/results.md).
    // With 12 candidates the cut moved once more: half 0 chose -1.5 over -1 (0.8896 vs 0.8892;
    // half 1 had -1.5 over -1 too, 0.8982 vs 0.8976, but chose the vote at 0.4 by 0.0003); the
    // margin is small, the direction the same on both halves and on both reports: 0.904 / 0.882,
    // worst 0.900 / 0.862 (docs/results.md).
    refine: { consensus: 0.5, maskThreshold: -1.5, candidates: 12, largestComponent: true },
  },
  'fetal-head-us': {
    name: 'fetal-head-us',
    classes: [{ name: 'fetal-head', prompts: [...PROMPT_ENSEMBLES['fetal-head']], topK: 1 }],
    visualPrompt: 'crops',
    maxAreaFraction: 0.61,
    workingSize: 256,
    // A lenient box NMS keeps a tight head beside the leaks that overlap it: each half of the dev
    // set chose 0.9 among 0.5, 0.7 (TASK_DEFAULTS'), 0.8 (an earlier version's, chosen on every
    // dev image) and 0.9 (0.939 vs 0.937, 0.868 vs 0.867). The area maximum (0.61) ties with 0.76
    // on both halves: it binds on no dev image.
    everything: { pointsPerSide: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, boxNmsThresh: 0.9 },
    // A head is a filled ellipse; the usual wrong candidates (the brain inside the skull, half a
    // skull, a strip beside it) are not. Its outline follows the skull's wall; a head that leaked
    // through a gap in the wall has an outline over flat tissue (the edge prior), and once outlines
    // are weighed, specks of bright speckle must not compete (the part floor). Each chosen on each
    // half of the dev set, reported on the other (docs/results.md).
    // A head that leaked is less the ellipse of its skull than the exemplars are: on an image
    // where the otherwise best candidate falls short by more than 0.1, the shortfall costs 800 x
    // (the ellipse gate: easy images keep their choice).
    exemplarScoring: { shapeWeight: 100, edgeWeight: 20, minPartRatio: 0.25, ellipseWeight: 800, ellipseGate: 0.1 },
    // A head is measured as an ellipse on its skull (HC18's reference masks are filled ellipses):
    // the chosen head becomes the ellipse through the stronger half of its outline. Chosen on each
    // half of the dev set (+0.016 and +0.017 on the choosing halves), reported on the other.
    // A leak's ellipse is still the skull's: two rounds of SAM prompted with each refined
    // candidate's ellipse box put tight heads in the running where the pool has none. With the
    // ellipse term, chosen on both halves (0.937 vs 0.935, 0.867 vs 0.816), reported 0.861 / 0.928
    // (was 0.812 / 0.907) at 309 decoder runs per image (was 272; docs/results.md).
    refine: { fitEllipse: true, ellipseBoxes: 2 },
    // HC18's heads vary about 6x in area; on a small one no grid point or exemplar box may lie on
    // the head. Box prompts around the image's brightest elliptical rings of the exemplars' size
    // (a skull) bring it in; a ring's mask that repeats a candidate already in the pool (box IoU
    // over 0.8) is dropped, so rings change nothing where the pool has the head. Both halves of
    // the dev set chose rings (half 0 with the 0.8 filter by 0.0001 over the preset without
    // rings, half 1 without the filter by 0.003 over it and by 0.009 over no rings), reported
    // 0.888 / 0.921 (was 0.860 / 0.925) at 311 decoder runs per image (docs/results.md).
    proposals: { rings: true, ringDuplicateIoU: 0.8 },
  },
  'brain-mri': {
    name: 'brain-mri',
    classes: [{ name: 'brain', prompts: [...PROMPT_ENSEMBLES.brain], topK: 1 }],
    visualPrompt: 'crops',
    maxAreaFraction: 0.76,
    workingSize: 256,
    // The brain is one large, clearly bounded region: 8 x 8 points find it (0.87 Dice on the dev
    // slices, as good as 16 x 16) at a quarter of the decoder calls, which matters per volume.
    everything: { pointsPerSide: 8, predIouThresh: 0, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 },
    // SAM's brain takes along the dark CSF gap under the skull (and, at the top of the head, the
    // sulci that open onto it): it is peeled off at the luminance halfway between the exemplars'
    // brain and its surroundings (0.959 vs 0.896 and 0.936 vs 0.869 on the choosing halves; a
    // class of text prompts alone is not peeled). SAM leaves dark specks of CSF inside the brain
    // as holes; the brain masks have none (0.896 vs 0.894, 0.869 vs 0.864). Each chosen on each
    // half of the dev slices, reported on the other.
    refine: { fillHoles: true, peelSurroundings: true },
  },
  'heart-cxr': {
    name: 'heart-cxr',
    classes: [{ name: 'heart', prompts: [...PROMPT_ENSEMBLES.heart], topK: 1 }],
    visualPrompt: 'crops',
    workingSize: 256,
    // The heart's lower border has no edge on a chest X-ray (it lies on the diaphragm), so SAM's
    // masks of it are boxy or notched; the reference outline is convex. Each refined candidate
    // becomes its convex hull before the re-scoring: 0.859 vs 0.828 and 0.846 vs 0.843 on the
    // choosing halves of the dev set, 0.854 / 0.859 on the reported ones (docs/results.md).
    // Everything else is the defaults a task naming only its class gets.
    refine: { convexHull: true },
  },
};

export type TaskPresetName = keyof typeof TASK_PRESETS;

/** A task by preset name, or the given task validated, with TASK_DEFAULTS filling what it leaves out. */
export function resolveTask(task: SalipTask | string): SalipTask {
  if (typeof task === 'string') {
    // Own keys only: 'constructor' and friends are not presets.
    const preset = Object.hasOwn(TASK_PRESETS, task) ? (TASK_PRESETS as Record<string, SalipTask>)[task] : undefined;
    if (!preset) {
      throw new SalipError('INVALID_TASK', `task: unknown preset '${task}'; expected one of ${Object.keys(TASK_PRESETS).join(', ')} or a task object`);
    }
    return withTaskDefaults(preset);
  }
  return withTaskDefaults(validateTask(task));
}

const resolvedTasks = new WeakMap<SalipTask, SalipTask>();

/**
 * The task with TASK_DEFAULTS filled in: fields it leaves out take the default, and the fields
 * of `everything`, `refine` and `exemplarScoring` it gives override the default's one by one.
 * The same task object always resolves to the same object (scorers are cached per task).
 */
export function withTaskDefaults(task: SalipTask): SalipTask {
  const known = resolvedTasks.get(task);
  if (known) return known;
  const d = TASK_DEFAULTS;
  const resolved: SalipTask = {
    ...task,
    workingSize: task.workingSize === undefined ? d.workingSize : task.workingSize,
    maxAreaFraction: task.maxArea === undefined ? (task.maxAreaFraction ?? d.maxAreaFraction) : task.maxAreaFraction,
    everything: { ...d.everything, ...task.everything },
    proposals: task.proposals === false ? false : { ...d.proposals, ...task.proposals },
    refine: { ...d.refine, ...task.refine },
    exemplarScoring: { ...d.exemplarScoring, ...task.exemplarScoring },
  };
  resolvedTasks.set(task, resolved);
  resolvedTasks.set(resolved, resolved);
  return resolved;
}

/** Checks a task object (e.g. parsed from JSON) and returns it; INVALID_TASK names the field. */
export function validateTask(task: unknown): SalipTask {
  const bad = (field: string, expected: string, got?: unknown): never => {
    throw new SalipError('INVALID_TASK', `task.${field}: expected ${expected}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`);
  };
  if (typeof task !== 'object' || task === null || Array.isArray(task)) bad('', 'an object');
  if ((task as { extends?: unknown }).extends !== undefined) {
    const { extends: preset, ...own } = task as Record<string, unknown>;
    if (typeof preset !== 'string' || !Object.hasOwn(TASK_PRESETS, preset)) bad('extends', `a preset name (${Object.keys(TASK_PRESETS).join(', ')})`, preset);
    return validateTask(overPreset(TASK_PRESETS[preset as TaskPresetName], own));
  }
  const t = task as Record<string, unknown>;
  if (t.name !== undefined && typeof t.name !== 'string') bad('name', 'a string', t.name);
  if (!Array.isArray(t.classes) || t.classes.length === 0) bad('classes', 'a non-empty array', t.classes);
  const names = new Set<string>();
  (t.classes as unknown[]).forEach((c, i) => {
    if (typeof c !== 'object' || c === null) bad(`classes[${i}]`, 'an object', c);
    const cls = c as Record<string, unknown>;
    if (typeof cls.name !== 'string' || cls.name.length === 0) bad(`classes[${i}].name`, 'a non-empty string', cls.name);
    if (names.has(cls.name as string)) bad(`classes[${i}].name`, 'a unique class name', cls.name);
    names.add(cls.name as string);
    const hasPrompts = cls.prompts !== undefined;
    const hasExemplars = cls.exemplars !== undefined;
    if (hasPrompts && (!Array.isArray(cls.prompts) || cls.prompts.some((p) => typeof p !== 'string' || p.trim() === ''))) {
      bad(`classes[${i}].prompts`, 'an array of non-empty sentences', cls.prompts);
    }
    if (hasPrompts && (cls.prompts as unknown[]).length === 0) bad(`classes[${i}].prompts`, 'at least one sentence (empty prompt ensemble)', cls.prompts);
    if (hasExemplars && (!Array.isArray(cls.exemplars) || cls.exemplars.length < 1 || cls.exemplars.length > 5)) {
      bad(`classes[${i}].exemplars`, '1 to 5 exemplars');
    }
    if (!hasPrompts && !hasExemplars) bad(`classes[${i}]`, `prompts or exemplars for class '${cls.name}'`);
    if (cls.topK !== undefined && !(Number.isInteger(cls.topK) && (cls.topK as number) >= 1)) bad(`classes[${i}].topK`, 'an integer >= 1', cls.topK);
  });
  if (t.visualPrompt !== undefined && !VISUAL_PROMPT_MODES.includes(t.visualPrompt as VisualPromptMode)) {
    bad('visualPrompt', `one of ${VISUAL_PROMPT_MODES.join(', ')}`, t.visualPrompt);
  }
  if (t.maxArea !== undefined && !(typeof t.maxArea === 'number' && t.maxArea > 0)) bad('maxArea', 'a number > 0', t.maxArea);
  if (t.workingSize !== undefined && t.workingSize !== null && !(Number.isInteger(t.workingSize) && (t.workingSize as number) > 0)) {
    bad('workingSize', 'an integer > 0 (or null for the image size)', t.workingSize);
  }
  if (t.maxAreaFraction !== undefined && !(typeof t.maxAreaFraction === 'number' && t.maxAreaFraction > 0 && t.maxAreaFraction <= 1)) {
    bad('maxAreaFraction', 'a number in (0, 1]', t.maxAreaFraction);
  }
  if (t.everything !== undefined && (typeof t.everything !== 'object' || t.everything === null || Array.isArray(t.everything))) bad('everything', 'an object', t.everything);
  // Segment-everything checks the values when it runs (some depend on the SAM); the keys are
  // checked here, so a typo (pointPerSide) fails when the task is read instead of being ignored.
  for (const key of Object.keys((t.everything as object | undefined) ?? {})) {
    if (!EVERYTHING_KEYS.includes(key)) bad(`everything.${key}`, `a known setting (${EVERYTHING_KEYS.join(', ')})`, key);
  }
  checkSettings(t.proposals, 'proposals', { exemplarBox: 'boolean', eachExemplarBox: 'boolean', similarity: 'boolean', similarityGrid: [4, 128, true], similarityLevel: [0, 1, false], centredBoxes: 'boolean', rings: 'boolean', ringCount: [1, 20, true], ringDuplicateIoU: [0, 1, false] }, bad, true);
  checkSettings(t.refine, 'refine', { iterations: [1, 8, true], candidates: [1, 32, true], fillHoles: 'boolean', largestComponent: 'boolean', convexHull: 'boolean', multimaskAlternatives: 'boolean', maskThreshold: [-20, 20, false], boxMargin: [0, 1, false], keepRetrieved: 'boolean', consensus: [0, 1, false], fitEllipse: 'boolean', peelSurroundings: 'boolean', ellipseBoxes: [0, 4, true] }, bad);
  checkSettings(t.exemplarScoring, 'exemplarScoring', { stabilityWeight: [0, 1000, false], locationWeight: [0, 1000, false], shapeWeight: [0, 1000, false], boundaryWeight: [0, 1000, false], edgeWeight: [0, 1000, false], minPartRatio: [0, 1, false], ellipseWeight: [0, 1000, false], ellipseGate: [0, 1, false], peerEdgeWeight: [0, 1000, false], peerEdgeShare: [0, 1, false], contextCells: [1, MAX_CONTEXT_CELLS, true], contextShare: [0, 1, false] }, bad, false, {
    similarity: ['region+context', 'region'],
    contrast: ['none', 'image-mean'],
  });
  return { name: (t.name as string | undefined) ?? 'custom', ...(t as object) } as SalipTask;
}

/**
 * A task's own fields over a preset's (a JSON task's `"extends": "<preset>"`): the settings
 * objects (everything, proposals, refine, exemplarScoring) merge key by key, and a class named
 * as one of the preset's keeps the preset's prompts and topK unless it gives its own (so a task
 * can add exemplars to a preset's class). `proposals: false` turns the preset's proposals off.
 */
function overPreset(preset: SalipTask, own: Record<string, unknown>): Record<string, unknown> {
  const objectOr = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  // A preset's `proposals: false` spreads as nothing: the task's own proposals then stand alone.
  const merge = (key: 'everything' | 'proposals' | 'refine' | 'exemplarScoring') =>
    own[key] === undefined ? preset[key] : objectOr(own[key]) ? { ...(preset[key] || {}), ...objectOr(own[key]) } : own[key];
  const classes = Array.isArray(own.classes)
    ? own.classes.map((c) => {
        const mine = objectOr(c);
        const theirs = mine && preset.classes.find((p) => p.name === mine.name);
        return theirs && mine ? { ...theirs, ...mine } : c;
      })
    : own.classes === undefined
      ? preset.classes
      : own.classes;
  return { ...preset, ...own, classes, everything: merge('everything'), proposals: merge('proposals'), refine: merge('refine'), exemplarScoring: merge('exemplarScoring') };
}

/** The segment-everything options a task may set (SegmentEverythingOptions less the per-call ones). */
const EVERYTHING_KEYS: readonly string[] = [...Object.keys(SEGMENT_EVERYTHING_DEFAULTS), 'multimask', 'mode', 'fast', 'promptsPerRun', 'boxScales'];

type SettingRule = 'boolean' | [min: number, max: number, integer: boolean];

/** Checks an optional settings object field by field (unknown keys are refused, so typos surface). */
function checkSettings(
  value: unknown,
  field: string,
  rules: Record<string, SettingRule>,
  bad: (field: string, expected: string, got?: unknown) => never,
  falseAllowed = false,
  choices: Record<string, string[]> = {},
): void {
  if (value === undefined || (falseAllowed && value === false)) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(field, falseAllowed ? 'an object or false' : 'an object', value);
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const rule = rules[key];
    const options = choices[key];
    if (options) {
      if (!options.includes(v as string)) bad(`${field}.${key}`, `one of ${options.join(', ')}`, v);
    } else if (rule === undefined) {
      bad(`${field}.${key}`, `a known setting (${[...Object.keys(rules), ...Object.keys(choices)].join(', ')})`, key);
    } else if (rule === 'boolean') {
      if (typeof v !== 'boolean') bad(`${field}.${key}`, 'true or false', v);
    } else {
      const [min, max, integer] = rule;
      if (typeof v !== 'number' || !(v >= min && v <= max) || (integer && !Number.isInteger(v))) {
        bad(`${field}.${key}`, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, v);
      }
    }
  }
}

/** Parses a task from JSON text (a CLI --task file). */
export function parseTaskJson(text: string, source = 'task JSON'): SalipTask {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SalipError('INVALID_TASK', `${source}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return validateTask(value);
}

/**
 * The task's fast-mode options with a guide from the scorer filled in: in fast mode, when the
 * scorer can say where the classes probably are (`Scorer.pointAffinity`, the exemplar scorer)
 * and the task gives no guide of its own, the grid points most like the classes are always
 * prompted. createSalip's cascade and evaluate() both run segment-everything with these.
 */
export function guidedFastOptions(task: SalipTask, scorer: Scorer | undefined, embedding: SamImageEmbedding, signal?: AbortSignal): FastEverythingOptions | undefined {
  const fast = task.everything?.fast;
  if (task.everything?.mode !== 'fast' || fast?.guide !== undefined || typeof scorer?.pointAffinity !== 'function') return fast;
  const affinity = scorer.pointAffinity.bind(scorer);
  return { ...fast, guide: (points) => affinity({ classes: task.classes, embedding, signal }, points) };
}

/**
 * A task's segment-everything parameters with what a Salip instance adds to every run of it:
 * where the masks are judged (its candidate maker) and how many grid points a decoder run takes
 * (the task's promptsPerRun, else the instance's). The cascade, evaluate() and tune() run
 * segment-everything with these.
 */
export function everythingRunOptions(
  params: EverythingParams | undefined,
  salip: { readonly candidateMaker?: CandidateMaker; readonly promptsPerRun?: number },
): SegmentEverythingOptions {
  return { ...params, candidateMaker: salip.candidateMaker, promptsPerRun: params?.promptsPerRun ?? salip.promptsPerRun };
}
