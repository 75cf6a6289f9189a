/**
 * What the end-to-end files share around the built daemon: clients that reach it over TLS with its
 * certificate pinned (and log in as a test user), a check that a call was refused with a coded
 * error, and the one teardown for a file that made test users, conda roots and a daemon.
 */
import { expect } from 'vitest';
import { connect, RpcError, type RpcClient } from '../../src/rpc/client.js';
import { Methods } from '../../src/rpc/methods.js';
import { removeCondaRoots } from './conda.js';
import { removeDaemonDirs, type TestDaemon } from './daemon.js';
import { removeAllTestUsers, type TestUser } from './users.js';

/** A client of the daemon on loopback, trusting exactly the daemon's certificate. */
export function connectTo(daemon: TestDaemon): Promise<RpcClient> {
  return connect({ host: '127.0.0.1', port: daemon.port, pinnedFingerprint: daemon.fingerprint });
}

/** A client logged in as `user` with the password PAM knows. */
export async function loggedIn(daemon: TestDaemon, user: TestUser): Promise<RpcClient> {
  const client = await connectTo(daemon);
  await client.call(Methods.login, { user: user.name, password: user.password });
  return client;
}

/** The RpcError a call was failed with; fails the test if it succeeded or threw something else. */
export async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RpcError);
  return error as RpcError;
}

/**
 * Stops the daemon and removes every test user, conda root and daemon directory; resolves with the
 * daemon's exit code, so that a file can also assert on a clean stop.
 */
export async function tearDown(daemon: TestDaemon | undefined): Promise<number | null | undefined> {
  const code = await daemon?.stop();
  removeAllTestUsers();
  removeCondaRoots();
  removeDaemonDirs();
  return code;
}
