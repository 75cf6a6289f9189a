/**
 * The daemon's certificate: the configured PEM pair, or a self-signed ECDSA P-256 certificate made
 * once into STATE/tls and reused afterwards, so that the fingerprint clients pinned stays valid.
 */
import { KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { fingerprintOf } from './fingerprint.js';

/** A certificate and key ready for the TLS server, with what the daemon logs about them. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex. */
  readonly fingerprint: string;
  readonly source: 'configured' | 'generated' | 'reused';
  readonly certPath: string;
  readonly notAfter: Date;
}

const REASONS = {
  unreadable: 'cannot read',
  invalid: 'not a usable PEM certificate or private key:',
  key_mismatch: 'the private key does not belong to the certificate:',
  write_failed: 'cannot write the self-signed certificate into',
} as const;

/** Why the certificate could not be used; the daemon stops with this, naming the file. */
export class TlsSetupError extends Error {
  override readonly name = 'TlsSetupError';

  constructor(
    readonly reason: keyof typeof REASONS,
    readonly file: string,
    options: { cause?: unknown } = {},
  ) {
    const why = (options.cause as NodeJS.ErrnoException | undefined)?.code;
    super(`TLS: ${REASONS[reason]} ${file}${why === undefined ? '' : ` (${why})`}`, options);
  }
}

const EXPIRY_WARNING_MS = 30 * 86_400_000;

/** Uses tls.cert/tls.key when set, otherwise the self-signed pair kept in STATE/tls. */
export async function loadOrCreateCertificate(options: {
  tls: Config['tls'];
  stateDir: string;
  logger: Logger;
}): Promise<TlsMaterial> {
  const { tls, stateDir, logger } = options;
  const material =
    tls.cert !== null && tls.key !== null
      ? await readPair(tls.cert, tls.key, 'configured')
      : await selfSigned(path.join(stateDir, 'tls'), logger);

  if (material.notAfter.getTime() - Date.now() < EXPIRY_WARNING_MS) {
    const { certPath, notAfter } = material;
    logger.warn({ certPath, notAfter }, 'certificate expires soon');
  }
  return material;
}

async function selfSigned(dir: string, logger: Logger): Promise<TlsMaterial> {
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  const [certExists, keyExists] = await Promise.all([exists(certPath), exists(keyPath)]);

  if (certExists && keyExists) {
    await tightenKeyMode(keyPath, logger);
    return readPair(certPath, keyPath, 'reused');
  }
  if (certExists !== keyExists) {
    // A crash between the two writes; nothing was ever served with half a pair.
    logger.warn({ dir }, 'half a self-signed pair found; generating a new certificate');
  }

  // Loaded on demand: a host with a configured certificate never pays for x509 and its shim.
  const { generateSelfSigned } = await import('./self-signed.js');
  const { cert, key } = await generateSelfSigned();
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    // Key first: cert.pem appearing last marks a complete pair.
    await writeAtomically(keyPath, key, 0o600);
    await writeAtomically(certPath, cert, 0o644);
  } catch (cause) {
    throw new TlsSetupError('write_failed', dir, { cause });
  }
  logger.info({ certPath }, 'generated a self-signed certificate');
  return describe(cert, key, 'generated', certPath);
}

async function readPair(certPath: string, keyPath: string, source: TlsMaterial['source']) {
  const cert = await readText(certPath);
  const key = await readText(keyPath);
  return describe(cert, key, source, certPath, keyPath);
}

function describe(
  cert: string,
  key: string,
  source: TlsMaterial['source'],
  certPath: string,
  keyPath = certPath,
): TlsMaterial {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (cause) {
    throw new TlsSetupError('invalid', certPath, { cause });
  }

  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    throw new TlsSetupError('invalid', keyPath, { cause });
  }
  if (!parsed.checkPrivateKey(privateKey)) throw new TlsSetupError('key_mismatch', keyPath);

  const notAfter = new Date(parsed.validTo);
  return { cert, key, fingerprint: fingerprintOf(cert), source, certPath, notAfter };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new TlsSetupError('unreadable', file, { cause });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function tightenKeyMode(keyPath: string, logger: Logger): Promise<void> {
  const { mode } = await stat(keyPath);
  if ((mode & 0o077) === 0) return;

  const was = (mode & 0o777).toString(8);
  logger.warn({ keyPath, mode: was }, 'private key was readable by others; now 0600');
  await chmod(keyPath, 0o600);
}

async function writeAtomically(file: string, data: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, data, { mode, flag: 'w' });
  await chmod(temp, mode); // the umask may have taken bits away from a public certificate
  await rename(temp, file);
}
