/**
 * Command-line parsing for `salip <command> [positionals] [--flags]` on top of node:util
 * parseArgs: kebab-case flags become camelCase option names, values are typed and validated
 * against a declarative spec, and --help text is generated from the same spec.
 */
import { parseArgs } from 'node:util';
import { SalipError } from '../core/errors.js';

/** One flag. Keys of a flags record are the kebab-case names without dashes ("points-per-side"). */
export interface FlagSpec {
  /** 'integer' is a number that must be whole; 'boolean' also accepts --no-<name>. */
  readonly type: 'string' | 'number' | 'integer' | 'boolean';
  /** One line for --help. */
  readonly description: string;
  /** Value when the flag is absent (shown in --help). */
  readonly default?: string | number | boolean;
  /** Single-letter alias, without the dash ("q" for -q). */
  readonly short?: string;
  /** Inclusive bounds for number/integer flags. */
  readonly min?: number;
  readonly max?: number;
  /** Allowed values of a string flag. */
  readonly choices?: readonly string[];
  /** String flags only: may be repeated; the option value is a string[] in command-line order. */
  readonly multiple?: boolean;
  /** The command fails when the flag is absent. */
  readonly required?: boolean;
  /** Placeholder in --help ("<file>"); defaults from the type. */
  readonly valueName?: string;
  /**
   * Boolean flags only: `--name=<integer>` is accepted too and gives that number (e.g.
   * --propagate=8 for propagation with step 8); the bare flag stays true, --no-name false.
   */
  readonly inlineInteger?: { readonly min: number; readonly valueName: string };
}

export interface PositionalSpec {
  /** Name shown in usage ("image"). */
  readonly name: string;
  readonly description: string;
  /** May be left out (only trailing positionals may be optional). */
  readonly optional?: boolean;
  /** Takes all remaining positionals (last positional only). */
  readonly variadic?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Longer text shown in the command's --help. */
  readonly description?: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly flags?: Readonly<Record<string, FlagSpec>>;
  /** Example command lines shown in --help. */
  readonly examples?: readonly string[];
}

export interface CliSpec {
  /** Program name in usage lines ("salip"). */
  readonly program: string;
  readonly summary: string;
  /** When set, --version prints it. */
  readonly version?: string;
  readonly commands: readonly CommandSpec[];
  /** Flags every command accepts (e.g. --debug, --quiet); also allowed before the command. */
  readonly globalFlags?: Readonly<Record<string, FlagSpec>>;
}

export type FlagValue = string | number | boolean | string[];

export type ParsedCommandLine =
  /** --help was asked for (requested) or no command was given (not requested). */
  | { readonly kind: 'help'; readonly text: string; readonly requested: boolean }
  | { readonly kind: 'version'; readonly text: string }
  | {
      readonly kind: 'run';
      readonly command: string;
      readonly positionals: string[];
      /** camelCase flag name -> value (default applied; undefined when absent without default). */
      readonly options: Record<string, FlagValue | undefined>;
    };

const HELP_FLAG: FlagSpec = { type: 'boolean', short: 'h', description: 'show this help' };
const VERSION_FLAG: FlagSpec = { type: 'boolean', description: 'print the version' };

/** "points-per-side" -> "pointsPerSide". */
export function camelCaseFlag(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Parses `argv` (the arguments after the program, e.g. process.argv.slice(2)) against `spec`. */
export function parseCommandLine(argv: readonly string[], spec: CliSpec): ParsedCommandLine {
  const globalFlags = { ...spec.globalFlags, help: HELP_FLAG, ...(spec.version ? { version: VERSION_FLAG } : {}) };
  const commandIndex = findCommandIndex(argv, globalFlags);
  if (commandIndex < 0) {
    const globals = readFlags(argv, globalFlags, `${spec.program}`, `${spec.program} --help`);
    if (globals.values.version === true && spec.version) return { kind: 'version', text: spec.version };
    if (globals.positionals.length > 0) throw unexpectedArgument(globals.positionals[0], spec.program);
    return { kind: 'help', text: formatProgramHelp(spec), requested: globals.values.help === true };
  }

  const name = argv[commandIndex];
  const command = spec.commands.find((c) => c.name === name);
  if (!command) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `unknown command '${name}'; expected one of: ${spec.commands.map((c) => c.name).join(', ')} (see '${spec.program} --help')`,
    );
  }
  const flags = { ...command.flags, ...globalFlags };
  const rest = [...argv.slice(0, commandIndex), ...argv.slice(commandIndex + 1)];
  const where = `${spec.program} ${command.name}`;
  const parsed = readFlags(rest, flags, where, `${where} --help`);
  if (parsed.values.help === true) return { kind: 'help', text: formatCommandHelp(spec, command), requested: true };
  if (parsed.values.version === true && spec.version) return { kind: 'version', text: spec.version };

  checkPositionals(parsed.positionals, command.positionals ?? [], where);
  const options: Record<string, FlagValue | undefined> = {};
  for (const [flagName, flag] of Object.entries(flags)) {
    if (flag === HELP_FLAG || flag === VERSION_FLAG) continue;
    const value = parsed.values[flagName] ?? flag.default;
    if (value === undefined && flag.required) {
      throw new SalipError('INVALID_ARGUMENT', `--${flagName}: required by '${where}' (see '${where} --help')`);
    }
    options[camelCaseFlag(flagName)] = value;
  }
  return { kind: 'run', command: command.name, positionals: parsed.positionals, options };
}

/** Help text for the whole program: commands and global flags. */
export function formatProgramHelp(spec: CliSpec): string {
  const lines = [`${spec.program} - ${spec.summary}`, '', `Usage: ${spec.program} <command> [options]`, '', 'Commands:'];
  lines.push(...table(spec.commands.map((c) => [c.name, c.summary])));
  const globals = { ...spec.globalFlags, help: HELP_FLAG, ...(spec.version ? { version: VERSION_FLAG } : {}) };
  lines.push('', 'Global options:', ...table(flagRows(globals)));
  lines.push('', `Run '${spec.program} <command> --help' for the options of a command.`);
  return lines.join('\n') + '\n';
}

/** Help text for one command: usage, arguments, flags with descriptions and defaults, examples. */
export function formatCommandHelp(spec: CliSpec, command: CommandSpec): string {
  const positionals = command.positionals ?? [];
  const usage = [`${spec.program} ${command.name}`, '[options]', ...positionals.map(positionalUsage)].join(' ');
  const lines = [`${spec.program} ${command.name} - ${command.summary}`, '', `Usage: ${usage}`];
  if (command.description) lines.push('', command.description);
  if (positionals.length > 0) {
    lines.push('', 'Arguments:', ...table(positionals.map((p) => [positionalUsage(p), p.description])));
  }
  if (command.flags && Object.keys(command.flags).length > 0) lines.push('', 'Options:', ...table(flagRows(command.flags)));
  const globals = { ...spec.globalFlags, help: HELP_FLAG };
  lines.push('', 'Global options:', ...table(flagRows(globals)));
  if (command.examples && command.examples.length > 0) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

interface ReadFlags {
  values: Record<string, FlagValue>;
  positionals: string[];
}

/** Index in argv of the command word: the first positional, skipping global flags and their values. */
function findCommandIndex(argv: readonly string[], globalFlags: Record<string, FlagSpec>): number {
  const { tokens } = parseArgs({ args: [...argv], options: parseArgsOptions(globalFlags), allowPositionals: true, strict: false, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  return first?.kind === 'positional' ? first.index : -1;
}

function readFlags(args: readonly string[], flags: Record<string, FlagSpec>, where: string, helpHint: string): ReadFlags {
  const { tokens } = parseArgs({ args: [...args], options: parseArgsOptions(flags), allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, FlagValue> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    // parseArgs already resolves known short aliases to their long name.
    const isShort = !token.rawName.startsWith('--');
    let name = token.name;
    let negated = false;
    if (!flags[name] && !isShort && name.startsWith('no-') && flags[name.slice(3)]?.type === 'boolean') {
      name = name.slice(3);
      negated = true;
    }
    // A short option counts only through a declared alias (-x must not reach a long flag named "x").
    const flag = isShort && flags[name]?.short !== token.rawName.slice(1) ? undefined : flags[name];
    if (!flag) throw new SalipError('INVALID_ARGUMENT', `${token.rawName}: unknown option for '${where}' (see '${helpHint}')`);
    const label = `--${name}`;
    if (flag.type === 'boolean') {
      if (negated && token.value !== undefined) throw new SalipError('INVALID_ARGUMENT', `${token.rawName}: takes no value, got '${token.value}'`);
      if (!negated && flag.inlineInteger && token.value !== undefined && /^\s*-?\d/.test(token.value)) {
        values[name] = convertValue(token.value, { type: 'integer', min: flag.inlineInteger.min, description: '' }, label);
        continue;
      }
      values[name] = negated ? false : token.value === undefined ? true : parseBoolean(token.value, label);
      continue;
    }
    if (token.value === undefined) throw new SalipError('INVALID_ARGUMENT', `${label}: expected ${expectation(flag)}, got no value`);
    if (!token.inlineValue && token.value.startsWith('--')) {
      throw new SalipError(
        'INVALID_ARGUMENT',
        `${label}: expected ${expectation(flag)}, got option '${token.value}' (write ${label}=${token.value} if that is the value)`,
      );
    }
    const value = convertValue(token.value, flag, label);
    if (flag.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), value as string];
    else values[name] = value;
  }
  return { values, positionals };
}

function parseArgsOptions(flags: Record<string, FlagSpec>): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, flag] of Object.entries(flags)) {
    options[name] = { type: flag.type === 'boolean' ? 'boolean' : 'string', ...(flag.short ? { short: flag.short } : {}) };
  }
  return options;
}

function convertValue(text: string, flag: FlagSpec, label: string): string | number {
  if (flag.type === 'string') {
    if (flag.choices && !flag.choices.includes(text)) {
      throw new SalipError('INVALID_ARGUMENT', `${label}: expected ${expectation(flag)}, got '${text}'`);
    }
    return text;
  }
  const value = text.trim() === '' ? NaN : Number(text);
  const ok =
    Number.isFinite(value) &&
    (flag.type !== 'integer' || Number.isInteger(value)) &&
    (flag.min === undefined || value >= flag.min) &&
    (flag.max === undefined || value <= flag.max);
  if (!ok) throw new SalipError('INVALID_ARGUMENT', `${label}: expected ${expectation(flag)}, got '${text}'`);
  return value;
}

function parseBoolean(text: string, label: string): boolean {
  const lower = text.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new SalipError('INVALID_ARGUMENT', `${label}: expected true or false, got '${text}'`);
}

/** "an integer >= 1", "a number between 0 and 1", "one of a, b". */
function expectation(flag: FlagSpec): string {
  if (flag.type === 'string') return flag.choices ? `one of ${flag.choices.join(', ')}` : 'a value';
  if (flag.type === 'boolean') return 'true or false';
  const kind = flag.type === 'integer' ? 'an integer' : 'a number';
  if (flag.min !== undefined && flag.max !== undefined) return `${kind} between ${flag.min} and ${flag.max}`;
  if (flag.min !== undefined) return `${kind} >= ${flag.min}`;
  if (flag.max !== undefined) return `${kind} <= ${flag.max}`;
  return kind;
}

function checkPositionals(given: string[], expected: readonly PositionalSpec[], where: string): void {
  const required = expected.filter((p) => !p.optional).length;
  if (given.length < required) {
    throw new SalipError('INVALID_ARGUMENT', `${where}: missing ${positionalUsage(expected[given.length])} (see '${where} --help')`);
  }
  const variadic = expected.length > 0 && expected[expected.length - 1].variadic === true;
  if (!variadic && given.length > expected.length) throw unexpectedArgument(given[expected.length], where);
}

function unexpectedArgument(value: string, where: string): SalipError {
  return new SalipError('INVALID_ARGUMENT', `${where}: unexpected argument '${value}' (see '${where} --help')`);
}

function positionalUsage(p: PositionalSpec): string {
  const base = `<${p.name}>${p.variadic ? '...' : ''}`;
  return p.optional ? `[${base}]` : base;
}

function flagRows(flags: Record<string, FlagSpec>): [string, string][] {
  return Object.entries(flags).map(([name, flag]) => {
    const placeholder = flag.type === 'boolean' ? (flag.inlineInteger ? `[=${flag.inlineInteger.valueName}]` : '') : ` ${flag.valueName ?? placeholderFor(flag)}`;
    const left = `${flag.short ? `-${flag.short}, ` : '    '}--${name}${placeholder}`;
    const notes = [
      flag.default !== undefined ? `default: ${String(flag.default)}` : '',
      flag.required ? 'required' : '',
      flag.multiple ? 'repeatable' : '',
    ].filter(Boolean);
    return [left, notes.length > 0 ? `${flag.description} (${notes.join(', ')})` : flag.description];
  });
}

function placeholderFor(flag: FlagSpec): string {
  if (flag.choices) return `<${flag.choices.join('|')}>`;
  if (flag.type === 'integer') return '<int>';
  if (flag.type === 'number') return '<num>';
  return '<value>';
}

function table(rows: [string, string][]): string[] {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`.trimEnd());
}
