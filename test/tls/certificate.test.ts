/**
 * The daemon's certificate: generated once with the right names and modes, reused afterwards,
 * configured files loaded, and clear errors for files that cannot be used.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateCertificate, TlsSetupError } from '../../src/tls/certificate.js';
import { fingerprintOf, normalizeFingerprint } from '../../src/tls/fingerprint.js';
import { ConfigSchema } from '../../src/config/schema.js';
import {
  captureLogger,
  issueCert,
  makeCa,
  removeTempDirs,
  selfSigned,
  tempDir,
} from '../helpers/tls.js';

const noFiles = ConfigSchema.parse({}).tls;
const { logger, text: logText } = captureLogger();

afterAll(removeTempDirs);

describe('self-signed certificate', () => {
  it('is generated once into STATE/tls with private modes, then reused', async () => {
    const state = tempDir('state');
    const first = await loadOrCreateCertificate({ tls: noFiles, stateDir: state, logger });
    expect(first.source).toBe('generated');
    expect(statSync(path.join(state, 'tls')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(state, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(state, 'tls', 'cert.pem'), 'utf8')).toBe(first.cert);

    const second = await loadOrCreateCertificate({ tls: noFiles, stateDir: state, logger });
    expect(second.source).toBe('reused');
    expect(second.fingerprint).toBe(first.fingerprint);
  });

  it('is ECDSA P-256 with SHA-256, serverAuth, for the host names, valid for years', async () => {
    const { cert, notAfter } = await loadOrCreateCertificate({
      tls: noFiles,
      stateDir: tempDir(),
      logger,
    });
    const parsed = new X509Certificate(cert);
    const host = os.hostname().toLowerCase();
    expect(parsed.subjectAltName).toContain(`DNS:${host}`);
    expect(parsed.subjectAltName).toContain(`DNS:${host.split('.')[0]}.local`);
    expect(parsed.subjectAltName).toContain('DNS:localhost');
    expect(parsed.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(parsed.subjectAltName).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect(parsed.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(parsed.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(notAfter.getTime() - Date.now()).toBeGreaterThan(9 * 365 * 86_400_000);

    const text = execFileSync('openssl', ['x509', '-noout', '-text'], {
      input: cert,
      encoding: 'utf8',
    });
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
  });

  it('has the fingerprint openssl prints', async () => {
    const state = tempDir();
    const material = await loadOrCreateCertificate({ tls: noFiles, stateDir: state, logger });
    const certFile = path.join(state, 'tls', 'cert.pem');
    const out = execFileSync(
      'openssl',
      ['x509', '-noout', '-fingerprint', '-sha256', '-in', certFile],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim().split('=')[1]).toBe(material.fingerprint);
    expect(normalizeFingerprint(material.fingerprint)).toBe(material.fingerprint);
  });

  it('tightens a key file that became readable by others', async () => {
    const state = tempDir();
    await loadOrCreateCertificate({ tls: noFiles, stateDir: state, logger });
    chmodSync(path.join(state, 'tls', 'key.pem'), 0o644);
    await loadOrCreateCertificate({ tls: noFiles, stateDir: state, logger });
    expect(statSync(path.join(state, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(logText()).toContain('private key was readable by others');
  });
});

describe('configured certificate', () => {
  it('loads the PEM files named in the config', async () => {
    const dir = tempDir();
    const pair = await issueCert(await makeCa());
    writeFileSync(path.join(dir, 'c.pem'), pair.cert);
    writeFileSync(path.join(dir, 'k.pem'), pair.key);
    const tls = { ...noFiles, cert: path.join(dir, 'c.pem'), key: path.join(dir, 'k.pem') };
    const material = await loadOrCreateCertificate({ tls, stateDir: dir, logger });
    expect(material).toMatchObject({ source: 'configured', fingerprint: fingerprintOf(pair.cert) });
  });

  it('names the file and the reason when it cannot be used', async () => {
    const dir = tempDir();
    const a = await selfSigned();
    const b = await selfSigned();
    writeFileSync(path.join(dir, 'a.pem'), a.cert);
    writeFileSync(path.join(dir, 'b.key'), b.key);
    writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate');
    const attempt = (cert: string, key: string) =>
      loadOrCreateCertificate({
        tls: { ...noFiles, cert: path.join(dir, cert), key: path.join(dir, key) },
        stateDir: dir,
        logger,
      }).then(
        () => new TlsSetupError('invalid', 'unexpectedly loaded'),
        (e: unknown) => e as TlsSetupError,
      );

    expect(await attempt('missing.pem', 'b.key')).toMatchObject({ reason: 'unreadable' });
    expect((await attempt('missing.pem', 'b.key')).message).toContain('missing.pem (ENOENT)');
    expect(await attempt('junk.pem', 'b.key')).toMatchObject({ reason: 'invalid' });
    expect(await attempt('a.pem', 'b.key')).toMatchObject({ reason: 'key_mismatch' });
  });
});
