/**
 * Validation of everything a client names for conda: environment names, package match specs,
 * channels. It runs before any process starts and refuses with a coded error; what passes is
 * passed to conda as one argv element each, never through a shell. A value can never start with
 * "-" (so it cannot become a conda option even where conda takes no "--"), and a refusal never
 * echoes the value: it may be a secret pasted in the wrong field.
 */
import { SksdError } from '../rpc/errors.js';

/** A match spec split into what policy checks need; `spec` is the text given to conda. */
export interface ParsedSpec {
  readonly spec: string;
  readonly name: string;
  /** The `channel::` (or `channel/subdir::`) part, or null. */
  readonly channel: string | null;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
// conda's own rule (PREFIX_NAME_DISALLOWED_CHARS in conda/base/context.py): no / space : #.
const ENV_NAME_FORBIDDEN = /[/ :#]/;
const PACKAGE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// Version and build characters conda's MatchSpec uses: 1.2.*, >=1.2,<2, 1.0|1.1, py311_0, 2!1.0+local.
const VERSION = /^[A-Za-z0-9_.*+!<>=,|~]+$/;
const BUILD = /^[A-Za-z0-9_.*+]+$/;
const BRACKET_KEYS = new Set(['version', 'build', 'build_number']);
const CHANNEL_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const URL_PATH_SEGMENT = /^[A-Za-z0-9_.~%+-]+$/;
const HTTPS = /^https:\/\/([A-Za-z0-9.-]+)(:\d{1,5})?((?:\/[^/]*)*)$/;

function refuse(
  name: 'invalid_env_name' | 'invalid_spec' | 'invalid_channel',
  field: string,
  reason: string,
): SksdError {
  return new SksdError(name, { data: { field, reason }, logDetail: `${field}: ${reason}` });
}

/** Common rules: not empty, no control character, not option-like, bounded. */
function basic(value: string, max: number): string | null {
  if (value.length === 0) return 'empty';
  if (value.length > max) return `longer than ${max} characters`;
  if (CONTROL.test(value)) return 'contains a control character';
  if (value.startsWith('-')) return 'starts with "-"';
  return null;
}

/** A name for a new environment: conda's rules, plus no leading "." and at most 100 characters. */
export function validateEnvName(name: string, field = 'name'): string {
  const problem = basic(name, 100);
  if (problem !== null) throw refuse('invalid_env_name', field, problem);

  if (ENV_NAME_FORBIDDEN.test(name))
    throw refuse('invalid_env_name', field, 'contains / space : or #');
  if (name.startsWith('.')) throw refuse('invalid_env_name', field, 'starts with "."');
  if (name === 'base' || name === 'root')
    throw refuse('invalid_env_name', field, 'reserved by conda');
  return name;
}

/** An existing environment: a name (conda's rules) or an absolute prefix without ".." parts. */
export function validateEnvRef(ref: string, field = 'env'): string {
  if (!ref.startsWith('/')) {
    if (ref === 'base') return ref;
    return validateEnvName(ref, field);
  }
  const problem = basic(ref, 4096);
  if (problem !== null) throw refuse('invalid_env_name', field, problem);
  if (ref.split('/').some((part) => part === '..' || part === '.')) {
    throw refuse('invalid_env_name', field, 'a prefix with . or .. parts');
  }
  return ref.length > 1 ? ref.replace(/\/+$/, '') : ref;
}

/** A bare package name, as packages.remove and packages.update take them. */
export function validatePackageName(name: string, field = 'names'): string {
  const problem = basic(name, 128);
  if (problem !== null) throw refuse('invalid_spec', field, problem);
  if (!PACKAGE_NAME.test(name)) throw refuse('invalid_spec', field, 'not a package name');
  return name;
}

/** The part after the name: " 1.2.* build", "=1.2=build", ">=1.2,<2", "[version='>=1']". */
function constraintProblem(rest: string): string | null {
  if (rest === '') return null;

  if (rest.startsWith('[')) {
    if (!rest.endsWith(']')) return 'unclosed [';
    for (const item of rest.slice(1, -1).split(/,(?=[a-z_]+=)/)) {
      const [key, raw = ''] = item.split(/=(.*)/s, 2);
      const value = raw.replace(/^(['"])(.*)\1$/, '$2');
      if (key === undefined || !BRACKET_KEYS.has(key)) return 'unknown [key]';
      if (!VERSION.test(value)) return `bad ${key}`;
    }
    return null;
  }
  if (rest.startsWith(' ')) {
    const [version, build, extra] = rest.slice(1).split(' ');
    if (version === undefined || !VERSION.test(version)) return 'bad version';
    if (build !== undefined && !BUILD.test(build)) return 'bad build';
    return extra === undefined ? null : 'too many parts';
  }
  if (/^=[^=<>!~]/.test(rest)) {
    const [version, build, extra] = rest.slice(1).split('=');
    if (version === undefined || !VERSION.test(version)) return 'bad version';
    if (build !== undefined && !BUILD.test(build)) return 'bad build';
    return extra === undefined ? null : 'too many parts';
  }
  if (/^(==|>=|<=|!=|~=|>|<)/.test(rest)) return VERSION.test(rest) ? null : 'bad version';
  return 'not a match spec';
}

/** A conda match spec: [channel[/subdir]::]name[constraint]; no URLs or paths to package files. */
export function parseSpec(spec: string, field = 'specs'): ParsedSpec {
  const problem = basic(spec, 500);
  if (problem !== null) throw refuse('invalid_spec', field, problem);

  let channel: string | null = null;
  let rest = spec;
  const sep = spec.indexOf('::');
  if (sep >= 0) {
    channel = spec.slice(0, sep);
    rest = spec.slice(sep + 2);
    try {
      validateChannel(channel);
    } catch {
      throw refuse('invalid_spec', field, 'bad channel before ::');
    }
  }

  const name = /^[A-Za-z0-9_][A-Za-z0-9_.-]*/.exec(rest)?.[0] ?? '';
  if (!PACKAGE_NAME.test(name)) throw refuse('invalid_spec', field, 'no package name');
  const constraint = constraintProblem(rest.slice(name.length));
  if (constraint !== null) throw refuse('invalid_spec', field, constraint);
  return { spec, name: name.toLowerCase(), channel };
}

/** A channel: a name (conda-forge, pytorch/label/nightly), an https URL, or a file URL. */
export function validateChannel(channel: string, field = 'channel'): string {
  const problem = basic(channel, 1000);
  if (problem !== null) throw refuse('invalid_channel', field, problem);

  const bad = (reason: string) => refuse('invalid_channel', field, reason);
  if (channel.startsWith('https://')) {
    const match = HTTPS.exec(channel);
    if (match === null)
      throw bad('not an https URL sksd accepts (no credentials, query or fragment)');
    checkUrlPath(match[3] ?? '', bad);
    return channel.replace(/\/+$/, '');
  }
  if (channel.startsWith('file:///')) {
    checkUrlPath(channel.slice('file://'.length), bad);
    return channel.replace(/\/+$/, '');
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(channel)) throw bad('only https and file URLs');

  const segments = channel.split('/');
  if (channel.length > 200 || !segments.every((s) => CHANNEL_SEGMENT.test(s) && s !== '..')) {
    throw bad('not a channel name');
  }
  return channel;
}

function checkUrlPath(path: string, bad: (reason: string) => SksdError): void {
  const segments = path.split('/').slice(1);
  if (segments.some((s, i) => (s === '' && i < segments.length - 1) || s === '.' || s === '..')) {
    throw bad('a URL path with empty, . or .. parts');
  }
  if (!segments.every((s) => s === '' || URL_PATH_SEGMENT.test(s))) throw bad('unusual URL path');
  // anaconda.org puts tokens in the path (/t/TOKEN/); a command line is readable by every user.
  if (segments[0] === 't') throw bad('credentials in a URL (a /t/ token) are refused');
}

/** The form channels are compared in: no case, no trailing "/". */
export function channelKey(channel: string): string {
  return channel.replace(/\/+$/, '').toLowerCase();
}

/** A python version for envs.create, as the spec python=VERSION. */
export function pythonSpec(version: string): ParsedSpec {
  if (!/^\d{1,2}(\.\d{1,3}){0,2}(\.\*)?$/.test(version)) {
    throw refuse('invalid_spec', 'python', 'not a python version like 3.11');
  }
  return { spec: `python=${version}`, name: 'python', channel: null };
}

/** Hides credentials in text that may hold URLs (conda's messages), before it is sent or logged. */
export function redactUrls(text: string): string {
  return text.replace(/(\w+:\/\/)[^/\s@]+@/g, '$1***@').replace(/\/t\/[^/\s]+/g, '/t/<TOKEN>');
}
