import { describe, expect, it } from 'vitest';
import { camelCaseFlag, formatCommandHelp, parseCommandLine, type CliSpec } from '../../src/cli/args.js';
import { SalipError } from '../../src/core/errors.js';

const spec: CliSpec = {
  program: 'salip',
  summary: 'zero-shot medical image segmentation',
  version: '0.1.0',
  globalFlags: {
    debug: { type: 'boolean', description: 'print stacks on errors' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress bar' },
    models: { type: 'string', description: 'model directory', valueName: '<dir>' },
  },
  commands: [
    {
      name: 'segment',
      summary: 'segment images',
      positionals: [
        { name: 'task', description: 'task name or JSON file' },
        { name: 'images', description: 'image files', variadic: true },
      ],
      flags: {
        'points-per-side': { type: 'integer', min: 1, default: 32, description: 'grid points per side' },
        'pred-iou-thresh': { type: 'number', min: 0, max: 1, default: 0.88, description: 'predicted IoU threshold' },
        'prompt-mode': { type: 'string', choices: ['crops', 'bbox'], default: 'crops', description: 'visual prompt' },
        out: { type: 'string', short: 'o', description: 'output directory', required: true },
        force: { type: 'boolean', default: false, description: 'overwrite outputs' },
        class: { type: 'string', multiple: true, description: 'class to keep' },
        offset: { type: 'number', description: 'any number' },
      },
      examples: ['salip segment brain scan.png -o out'],
    },
    { name: 'info', summary: 'print model info', positionals: [{ name: 'model', description: 'model file', optional: true }] },
  ],
};

function run(argv: string[]) {
  const parsed = parseCommandLine(argv, spec);
  if (parsed.kind !== 'run') throw new Error(`expected a run, got ${parsed.kind}`);
  return parsed;
}

function errorOf(argv: string[]): SalipError {
  try {
    parseCommandLine(argv, spec);
  } catch (error) {
    expect(error).toBeInstanceOf(SalipError);
    return error as SalipError;
  }
  throw new Error('expected a SalipError');
}

describe('parseCommandLine', () => {
  it('maps kebab-case flags to camelCase options with types and defaults', () => {
    const parsed = run(['segment', 'brain', 'a.png', 'b.png', '--points-per-side', '16', '--pred-iou-thresh=0.5', '-o', 'out']);
    expect(parsed.command).toBe('segment');
    expect(parsed.positionals).toEqual(['brain', 'a.png', 'b.png']);
    expect(parsed.options).toEqual({
      pointsPerSide: 16,
      predIouThresh: 0.5,
      promptMode: 'crops',
      out: 'out',
      force: false,
      class: undefined,
      offset: undefined,
      debug: undefined,
      quiet: undefined,
      models: undefined,
    });
  });

  it('accepts global flags before the command, --no-<flag>, boolean values, repeats and negative numbers', () => {
    const parsed = run(['--models', 'm', '-q', 'segment', 'brain', 'x.png', '--out=o', '--no-force', '--debug=true', '--class', 'lung', '--class', 'heart', '--offset', '-2.5']);
    expect(parsed.positionals).toEqual(['brain', 'x.png']);
    expect(parsed.options).toMatchObject({ models: 'm', quiet: true, force: false, debug: true, class: ['lung', 'heart'], offset: -2.5 });
  });

  it('resolves grouped short aliases and rejects undeclared short options', () => {
    expect(run(['segment', 'b', 'i.png', '-qo', 'dir']).options).toMatchObject({ quiet: true, out: 'dir' });
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '-x']).message).toBe("-x: unknown option for 'salip segment' (see 'salip segment --help')");
  });

  it('treats everything after -- as positionals', () => {
    expect(run(['segment', '-o', 'o', '--', 'brain', '--weird.png']).positionals).toEqual(['brain', '--weird.png']);
  });

  it('validates numbers with messages naming the flag, the expectation and the value', () => {
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--points-per-side', 'x']).message).toBe(
      "--points-per-side: expected an integer >= 1, got 'x'",
    );
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--points-per-side', '2.5']).message).toBe(
      "--points-per-side: expected an integer >= 1, got '2.5'",
    );
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--points-per-side=0']).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--pred-iou-thresh', '1.5']).message).toBe(
      "--pred-iou-thresh: expected a number between 0 and 1, got '1.5'",
    );
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--offset', '']).message).toBe("--offset: expected a number, got ''");
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--prompt-mode', 'contour']).message).toBe(
      "--prompt-mode: expected one of crops, bbox, got 'contour'",
    );
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--force=maybe']).message).toBe("--force: expected true or false, got 'maybe'");
  });

  it('reports missing values, values that look like flags, unknown flags and commands', () => {
    expect(errorOf(['segment', 'b', 'i.png', '--out']).message).toBe('--out: expected a value, got no value');
    expect(errorOf(['segment', 'b', 'i.png', '--out', '--force']).message).toContain("got option '--force'");
    expect(errorOf(['segment', 'b', 'i.png', '-o', 'o', '--colour', 'red']).message).toBe(
      "--colour: unknown option for 'salip segment' (see 'salip segment --help')",
    );
    expect(errorOf(['segmnet']).message).toBe("unknown command 'segmnet'; expected one of: segment, info (see 'salip --help')");
  });

  it('checks required flags and positional counts', () => {
    expect(errorOf(['segment', 'b', 'i.png']).message).toBe("--out: required by 'salip segment' (see 'salip segment --help')");
    expect(errorOf(['segment', 'b', '-o', 'o']).message).toBe("salip segment: missing <images>... (see 'salip segment --help')");
    expect(run(['info']).positionals).toEqual([]);
    expect(errorOf(['info', 'a', 'b']).message).toBe("salip info: unexpected argument 'b' (see 'salip info --help')");
  });

  it('returns help and version instead of running', () => {
    const top = parseCommandLine([], spec);
    expect(top).toMatchObject({ kind: 'help', requested: false });
    expect(parseCommandLine(['--help'], spec)).toMatchObject({ kind: 'help', requested: true });
    expect(parseCommandLine(['--version'], spec)).toEqual({ kind: 'version', text: '0.1.0' });
    const help = parseCommandLine(['segment', '-h'], spec);
    expect(help.kind).toBe('help');
    // --help wins over missing arguments, so a user can always ask.
    expect(parseCommandLine(['segment', '--help', '--points-per-side', '3'], spec).kind).toBe('help');
  });
});

describe('help text', () => {
  it('lists commands and global flags', () => {
    const top = parseCommandLine(['--help'], spec);
    expect(top.kind === 'help' && top.text).toContain('Usage: salip <command> [options]');
    expect(top.kind === 'help' && top.text).toMatch(/ {2}segment +segment images/);
    expect(top.kind === 'help' && top.text).toMatch(/-q, --quiet +no progress bar/);
  });

  it('gives each flag of a command one line with its description and default', () => {
    const text = formatCommandHelp(spec, spec.commands[0]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('salip segment - segment images');
    expect(text).toContain('Usage: salip segment [options] <task> <images>...');
    expect(lines.find((l) => l.includes('--points-per-side'))).toMatch(/--points-per-side <int> +grid points per side \(default: 32\)$/);
    expect(lines.find((l) => l.includes('--prompt-mode'))).toMatch(/--prompt-mode <crops\|bbox> +visual prompt \(default: crops\)$/);
    expect(lines.find((l) => l.includes('--out'))).toMatch(/-o, --out <value> +output directory \(required\)$/);
    expect(lines.find((l) => l.includes('--models'))).toMatch(/--models <dir> +model directory$/);
    expect(text).toContain('  salip segment brain scan.png -o out');
  });
});

describe('camelCaseFlag', () => {
  it('converts kebab-case names', () => {
    expect(camelCaseFlag('points-per-side')).toBe('pointsPerSide');
    expect(camelCaseFlag('crop-n-layers')).toBe('cropNLayers');
    expect(camelCaseFlag('force')).toBe('force');
  });
});

describe('boolean flags that also take an inline integer (--propagate[=k])', () => {
  const volumeSpec: CliSpec = {
    program: 'salip',
    summary: 's',
    commands: [
      {
        name: 'segment',
        summary: 'segment',
        positionals: [{ name: 'input', description: 'input' }],
        flags: { propagate: { type: 'boolean', inlineInteger: { min: 1, valueName: 'k' }, description: 'propagate' } },
      },
    ],
  };
  const options = (argv: string[]) => {
    const parsed = parseCommandLine(argv, volumeSpec);
    if (parsed.kind !== 'run') throw new Error(`expected a run, got ${parsed.kind}`);
    return parsed;
  };

  it('gives true for the bare flag, the number for --flag=k, false for --no-flag, and leaves the next word a positional', () => {
    expect(options(['segment', '--propagate', 'v.nii']).options.propagate).toBe(true);
    expect(options(['segment', '--propagate', 'v.nii']).positionals).toEqual(['v.nii']);
    expect(options(['segment', 'v.nii', '--propagate=8']).options.propagate).toBe(8);
    expect(options(['segment', 'v.nii', '--no-propagate']).options.propagate).toBe(false);
    expect(options(['segment', 'v.nii', '--propagate=false']).options.propagate).toBe(false);
    expect(options(['segment', 'v.nii']).options.propagate).toBeUndefined();
  });

  it('refuses a number below the minimum or not whole, by name', () => {
    expect(() => parseCommandLine(['segment', 'v.nii', '--propagate=0'], volumeSpec)).toThrow(/--propagate: expected an integer >= 1, got '0'/);
    expect(() => parseCommandLine(['segment', 'v.nii', '--propagate=2.5'], volumeSpec)).toThrow(/--propagate: expected an integer >= 1, got '2.5'/);
    expect(() => parseCommandLine(['segment', 'v.nii', '--propagate=maybe'], volumeSpec)).toThrow(/--propagate: expected true or false, got 'maybe'/);
  });

  it('shows the optional value in help', () => {
    expect(formatCommandHelp(volumeSpec, volumeSpec.commands[0])).toMatch(/--propagate\[=k\] +propagate/);
  });
});
