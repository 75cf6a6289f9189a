/**
 * Certificate fingerprints as people compare them: SHA-256 of the DER, colon-separated uppercase
 * hex, the same text `openssl x509 -noout -fingerprint -sha256` prints. The daemon logs it at every
 * start, mDNS announces it, and clients pin it.
 */
import { X509Certificate } from 'node:crypto';

/** The SHA-256 fingerprint of a PEM or DER certificate, e.g. `AB:CD:...` (95 characters). */
export function fingerprintOf(certificate: string | Buffer): string {
  return new X509Certificate(certificate).fingerprint256;
}

/**
 * Canonical form of a fingerprint typed or pasted by a person: colons, spaces and case do not
 * matter. Returns null unless it is exactly 32 bytes of hex, so a truncated pin never matches.
 */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;

  return hex.match(/../g)!.join(':');
}

/** True when both texts name the same SHA-256 fingerprint. */
export function sameFingerprint(a: string, b: string): boolean {
  const left = normalizeFingerprint(a);
  return left !== null && left === normalizeFingerprint(b);
}
