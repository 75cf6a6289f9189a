/**
 * The TXT record of `_sksd._tcp` (docs/discovery.md lists the keys for other clients). It stays
 * small: one key=value string per fact, each at most 255 bytes (RFC 6763 section 6.1), and lists
 * such as environments or kernels are served over RPC instead.
 */
import { z } from 'zod';
import { normalizeFingerprint } from '../tls/fingerprint.js';

/** The DNS-SD service type sksd announces. */
export const SERVICE_TYPE = '_sksd._tcp';

/** Version of the TXT layout itself (RFC 6763 section 6.7); bumped when a key changes meaning. */
export const TXT_VERSION = 1;

const MAX_STRING_BYTES = 255;

/** What the TXT record tells a client before it connects. */
export interface ServiceFacts {
  /** JSON-RPC protocol version (PROTOCOL_VERSION). */
  readonly protocol: number;
  /** sksd's own version. */
  readonly version: string;
  readonly state: 'idle' | 'busy';
  /** Kernels the daemon holds (every state but dead), all users together. */
  readonly kernels: number;
  /** kernels.total: the most kernels of all users together. */
  readonly limit: number;
  /** SHA-256 fingerprint of the TLS certificate, `AB:CD:...`. */
  readonly fingerprint: string;
}

/** TXT strings as sent: an ordered key to value map, txtvers first. */
export type TxtRecord = Readonly<Record<string, string>>;

/** Builds the TXT strings; throws if one would not fit a DNS character-string. */
export function buildTxt(facts: ServiceFacts): TxtRecord {
  const txt: Record<string, string> = {
    txtvers: String(TXT_VERSION),
    proto: String(facts.protocol),
    version: facts.version,
    state: facts.state,
    kernels: String(facts.kernels),
    limit: String(facts.limit),
    sha256: facts.fingerprint,
  };
  for (const [key, value] of Object.entries(txt)) {
    if (Buffer.byteLength(`${key}=${value}`) > MAX_STRING_BYTES) {
      throw new Error(`TXT ${key} is longer than ${MAX_STRING_BYTES} bytes`);
    }
  }
  return txt;
}

/** TXT as a browser read it: every field null when missing or malformed. */
export type ParsedTxt = { readonly [K in keyof ServiceFacts]: ServiceFacts[K] | null };

// Decimal digits only: z.coerce would read an empty value as 0.
const count = z
  .string()
  .regex(/^\d{1,7}$/)
  .transform(Number);
const fields = {
  protocol: count,
  version: z.string().min(1).max(64),
  state: z.enum(['idle', 'busy']),
  kernels: count,
  limit: count,
  fingerprint: z.string().transform((text, ctx) => {
    const canonical = normalizeFingerprint(text);
    if (canonical === null) ctx.addIssue({ code: 'custom', message: 'not a SHA-256 fingerprint' });
    return canonical ?? '';
  }),
} as const;
const KEYS: Record<keyof ServiceFacts, string> = {
  protocol: 'proto',
  version: 'version',
  state: 'state',
  kernels: 'kernels',
  limit: 'limit',
  fingerprint: 'sha256',
};

/**
 * Reads TXT strings from the network. Keys are case-insensitive and only the first occurrence of
 * a key counts (RFC 6763 section 6.4); a bad value makes that one field null, not the service.
 */
export function parseTxt(strings: readonly (Buffer | string)[]): ParsedTxt {
  const seen = new Map<string, string>();
  for (const item of strings) {
    const text = typeof item === 'string' ? item : item.toString('utf8');
    const equals = text.indexOf('=');
    if (equals <= 0) continue;

    const key = text.slice(0, equals).toLowerCase();
    if (!seen.has(key)) seen.set(key, text.slice(equals + 1));
  }

  const field = <K extends keyof ServiceFacts>(name: K): ServiceFacts[K] | null => {
    const checked = fields[name].safeParse(seen.get(KEYS[name]));
    return checked.success ? (checked.data as ServiceFacts[K]) : null;
  };
  return {
    protocol: field('protocol'),
    version: field('version'),
    state: field('state'),
    kernels: field('kernels'),
    limit: field('limit'),
    fingerprint: field('fingerprint'),
  };
}
