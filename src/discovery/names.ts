/**
 * DNS names for the announcement. An instance name is a single DNS label: any UTF-8 text, at
 * most 63 bytes (RFC 6763 section 4.1.1, RFC 1035 section 2.3.4). A friendly name can be up to 200
 * characters, so it is cut, and cut between user-perceived characters: a byte cut would leave
 * broken UTF-8, a code point cut could split an accent from its letter or an emoji sequence.
 */

/** The longest DNS label in bytes. */
export const MAX_LABEL_BYTES = 63;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Cuts text to at most `maxBytes` of UTF-8, ending on a character (grapheme) boundary. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;

  let out = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const size = Buffer.byteLength(segment);
    if (used + size > maxBytes) {
      // A single cluster longer than the whole budget (a pile of combining marks): fall back to
      // code points for it, which still never splits a character's bytes.
      if (out === '') return cutCodePoints(segment, maxBytes);
      break;
    }
    out += segment;
    used += size;
  }
  return out;
}

function cutCodePoints(text: string, maxBytes: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > maxBytes) break;
    out += char;
  }
  return out;
}

/**
 * The instance label for a friendly name: NFC (RFC 6763 section 4.1.3), runs of white space
 * collapsed, other control characters dropped, dots replaced (the DNS encoder splits labels at
 * dots and has no escape for them), then cut to 63 bytes. Empty results fall back to `fallback`.
 */
export function instanceLabel(friendly: string, fallback: string): string {
  const clean = friendly
    .normalize('NFC')
    .replace(/\s+/gu, ' ')
    .replace(/\p{Cc}/gu, '')
    .replaceAll('.', '-')
    .trim();
  const cut = cutUtf8(clean, MAX_LABEL_BYTES).trimEnd();
  return cut === '' ? cutUtf8(fallback, MAX_LABEL_BYTES) : cut;
}

/**
 * The host label for `NAME.local`: the first label of the system host name, reduced to the
 * letters, digits and hyphens host names may hold (RFC 952/1123), at most 63 bytes.
 */
export function hostLabel(hostname: string): string {
  const first = hostname.split('.')[0] ?? '';
  const clean = first
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_LABEL_BYTES);
  return clean === '' ? 'sksd' : clean;
}

/** The next name after a conflict: "Box" -> "Box (2)" -> "Box (3)", still within 63 bytes. */
export function renamed(label: string, attempt: number): string {
  const base = label.replace(/ \(\d+\)$/, '');
  const suffix = ` (${attempt})`;
  return `${cutUtf8(base, MAX_LABEL_BYTES - suffix.length).trimEnd()}${suffix}`;
}
