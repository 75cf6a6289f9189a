/**
 * Generation of the self-signed certificate that a daemon without a configured one serves:
 * ECDSA P-256 signed with SHA-256, serverAuth only, named for every way a client may reach it.
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs it loaded first
import { KeyObject, webcrypto } from 'node:crypto';
import os from 'node:os';
import * as x509 from '@peculiar/x509';

const VALIDITY_YEARS = 10;
const ECDSA = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Node's webcrypto, typed as the DOM Crypto that @peculiar/x509 declares (lib has no DOM). */
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1]>;

/** The names this host answers to, for the subjectAltName of a generated certificate. */
export function hostNames(): { dns: string[]; ips: string[] } {
  const host = os.hostname().toLowerCase();
  // mDNS names are the first label plus .local, whatever domain the host name carries.
  const dns = [host, `${host.split('.')[0]}.local`, 'localhost'];
  const valid = dns.filter((name) => /^[a-z0-9.-]+$/.test(name));
  return { dns: [...new Set(valid)], ips: ['127.0.0.1', '::1'] };
}

/** Makes a self-signed serverAuth certificate (ECDSA P-256, SHA-256) and its PKCS#8 key, as PEM. */
export async function generateSelfSigned(
  names = hostNames(),
  years = VALIDITY_YEARS,
): Promise<{ cert: string; key: string }> {
  const crypto = webcrypto as unknown as X509Crypto;
  const keys = await webcrypto.subtle.generateKey(ECDSA, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 86_400_000); // a day back: tolerate client clock skew
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + years);

  const altNames = [
    ...names.dns.map((value) => ({ type: 'dns' as const, value })),
    ...names.ips.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [names.dns[0] ?? 'sksd'] }, { O: ['sksd self-signed'] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: ECDSA,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(altNames),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  return { cert: cert.toString('pem'), key: key.toString() };
}
