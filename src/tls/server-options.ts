/**
 * TLS settings of the daemon's listener. TLS 1.3 only by default; where the config lets TLS 1.2
 * in, it gets forward secrecy and AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305), because CBC
 * suites and client-initiated renegotiation are what testssl flags on Node's defaults.
 */
import { constants } from 'node:crypto';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { Config } from '../config/schema.js';

/**
 * TLS 1.3 suites, all AEAD. Naming them matters: Node splits `ciphers` into 1.2 and 1.3 suites,
 * and a list without any TLS_ name turns TLS 1.3 off.
 */
const TLS13_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
];

/** TLS 1.2 suites: ECDHE key exchange and AEAD only, strongest first. */
const TLS12_SUITES = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
];

/** A client that has not finished its handshake by then holds a connection slot for nothing. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options for tls.createServer from the certificate and the `tls` section of the config. */
export function tlsServerOptions(
  material: { cert: string; key: string },
  tls: Pick<Config['tls'], 'minVersion'>,
): TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: tls.minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'),
    honorCipherOrder: true,
    // TLS 1.3 has no renegotiation (RFC 8446 section 4.1.2 ends it); for 1.2 OpenSSL refuses it.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    requestCert: false,
  };
}

/**
 * Per-socket second line of defence: Node then treats any further handshake on the socket as an
 * error, even if an OpenSSL build ignored SSL_OP_NO_RENEGOTIATION.
 */
export function hardenSocket(socket: TLSSocket): void {
  socket.disableRenegotiation();
}
