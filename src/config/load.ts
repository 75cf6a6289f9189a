/**
 * Reads /etc/sksd.conf (or --config FILE): YAML, UTF-8, validated by the schema. Every problem is
 * reported with file, line and key; the daemon refuses to start rather than fall back.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { type z } from 'zod';
import { ConfigSchema, type Config } from './schema.js';

/** The default config file, used when --config is not given. */
export const DEFAULT_CONFIG_FILE = '/etc/sksd.conf';

/** One problem in a config file, located as precisely as the YAML allows. */
export interface ConfigProblem {
  file: string;
  line: number | null;
  key: string;
  message: string;
}

/** Thrown when a config file cannot be used; `toString()` lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}

function formatProblem(p: ConfigProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.key === '' ? '(top level)' : p.key}: ${p.message}`;
}

/** Where a config came from: a file, or the built-in defaults when the default file is absent. */
export interface LoadedConfig {
  config: Config;
  source: string | null;
}

/**
 * Loads and validates a config file. A missing file is an error when the path was given
 * explicitly, and means "all defaults" for the default path.
 */
export async function loadConfig(path?: string): Promise<LoadedConfig> {
  const file = path ?? DEFAULT_CONFIG_FILE;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && path === undefined)
      return { config: ConfigSchema.parse({}), source: null };
    throw new ConfigError([
      { file, line: null, key: '', message: `cannot read: ${code ?? error}` },
    ]);
  }

  return { config: parseConfigText(decodeUtf8(bytes, file), file), source: file };
}

function decodeUtf8(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError([{ file, line: null, key: '', message: 'not valid UTF-8' }]);
  }
}

/** Parses and validates config text; `file` only labels the problems. */
export function parseConfigText(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file,
        line: lineCounter.linePos(e.pos[0]).line,
        key: '',
        message: `YAML: ${e.message.split('\n')[0]}`,
      })),
    );
  }

  const value: unknown = doc.toJS() ?? {};
  const result = ConfigSchema.safeParse(value);
  if (result.success) return result.data;

  throw new ConfigError(result.error.issues.map((issue) => locate(issue, doc, lineCounter, file)));
}

function locate(
  issue: z.core.$ZodIssue,
  doc: Document,
  lineCounter: LineCounter,
  file: string,
): ConfigProblem {
  // An unknown key is reported at the key itself, not at its parent mapping.
  const path = issue.path.map(String);
  const keyPath = issue.code === 'unrecognized_keys' ? [...path, issue.keys[0] ?? ''] : path;
  return {
    file,
    line: lineOf(doc, keyPath, lineCounter),
    key: keyPath.join('.'),
    message: issue.message,
  };
}

function lineOf(doc: Document, path: string[], lineCounter: LineCounter): number | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    const pair = findPair(doc, path.slice(0, depth));
    if (pair !== null) return lineCounter.linePos(pair).line;
  }
  return null;
}

/** The offset of a key node, for keys whose value is empty (null) and has no range of its own. */
function findPair(doc: Document, path: string[]): number | null {
  if (path.length === 0) return null;
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (!parent || typeof parent !== 'object' || !('items' in parent)) return null;

  for (const item of (parent as { items: unknown[] }).items) {
    const key = (item as { key?: unknown }).key;
    if (isNode(key) && String((key as { value?: unknown }).value) === path.at(-1) && key.range) {
      return key.range[0];
    }
  }
  return null;
}
