/**
 * The composition root: builds every component from the settings, serves, and owns the one
 * shutdown path. It does not fork, and it logs to stdout for journald (systemd daemon(7),
 * "New-Style Daemons").
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LoginService } from '../auth/login.js';
import type { UserAccount } from '../auth/users.js';
import { PamAuthenticator } from '../auth/pam.js';
import { EnvAdmin } from '../conda/admin.js';
import { locateConda, type CondaExecutable } from '../conda/locate.js';
import { policyFor } from '../conda/policy.js';
import type { Settings } from '../config/runtime.js';
import type { Config } from '../config/schema.js';
import { Advertiser } from '../discovery/advertiser.js';
import { removeEndpoint, writeEndpoint } from '../endpoint-file.js';
import { KernelManager } from '../kernels/manager.js';
import type { Logger } from '../log.js';
import { createRpcServer, type RpcServer } from '../rpc/server.js';
import { loadOrCreateCertificate } from '../tls/certificate.js';
import { tlsServerOptions } from '../tls/server-options.js';
import { VERSION } from '../version.js';
import { ActivityTracker } from './activity.js';
import { createHandlers, type Session } from './handlers/index.js';
import { liveView } from './reload.js';

/** The daemon's life: a state only moves forward. */
export type DaemonState = 'starting' | 'running' | 'stopping' | 'stopped';

const PRUNE_INTERVAL_MS = 60_000;

/** A running daemon. stop() is idempotent and is the only way down. */
export interface Daemon {
  readonly address: AddressInfo;
  readonly fingerprint: string;
  state(): DaemonState;
  stop(reason: string): Promise<void>;
  /**
   * Puts a reloaded config in force (src/daemon/reload.ts plans it). Keys read through `current`
   * take effect at their next use; the others were fixed at start and are left as they are.
   */
  reconfigure(config: Config): void;
}

/**
 * Starts every component and listens; rejects (after cleaning up) if any step fails. Resolves
 * only once clients can use the daemon (TLS listening, endpoint file written, announcement out):
 * `sksd serve` reports READY=1 to systemd at that moment, so anything a client needs starts here.
 */
export async function startDaemon(settings: Settings, logger: Logger): Promise<Daemon> {
  const { config } = settings;
  // The config in force; reconfigure() replaces it. Live settings are read through it at use.
  let current: Config = config;
  let state: DaemonState = 'starting';

  // Files the daemon creates (state, certificate, kernel directories) are private by default.
  process.umask(0o077);
  await prepareDirectories(settings);

  const tls = await loadOrCreateCertificate({
    tls: config.tls,
    stateDir: settings.stateDir,
    logger,
  });
  logger.info(
    { fingerprint: tls.fingerprint, source: tls.source, cert: tls.certPath },
    'TLS certificate',
  );

  const conda = () => locateConda({ configured: current.conda.executable });
  const pam = new PamAuthenticator({
    service: config.auth.pamService,
    concurrency: config.auth.pamConcurrency,
    logger: logger.child({ component: 'pam' }),
  });
  const onlyUser = settings.mode.kind === 'single-user' ? settings.mode.user : undefined;
  const login = new LoginService({ auth: config.auth, pam, logger, onlyUser });
  // Components read live settings through liveView at each use, so a reload reaches them.
  const kernelFixed = {
    conda,
    runtimeDir: settings.runtimeDir,
    stateFile: join(settings.stateDir, 'kernels.json'),
    logger: logger.child({ component: 'kernels' }),
  };
  const kernels = new KernelManager(
    liveView(() => ({ ...kernelFixed, ...kernelSettings(current.kernels) })),
  );

  const envFixed = {
    conda,
    // envs.remove refuses an environment one of the user's kernels runs in.
    inUse: (user: UserAccount, env: { name: string; prefix: string }) =>
      kernels
        .list(user)
        .some((k) => k.state !== 'dead' && (k.env === env.name || k.env === env.prefix)),
    logger: logger.child({ component: 'envs' }),
  };
  const envAdmin = new EnvAdmin(
    liveView(() => ({ ...envFixed, ...policySettings(current.policy) })),
  );

  const sessions = new Map<string, Session>();
  const activity = new ActivityTracker();
  // mDNS (docs/discovery.md). It hears activity and kernel events from here on, so kernels
  // adopted before the listener opens are counted; it announces once the port is known.
  const advertiser = new Advertiser({
    config: config.mdns,
    name: settings.name,
    host: settings.host,
    fingerprint: tls.fingerprint,
    limit: config.kernels.total,
    activity,
    kernels,
    logger: logger.child({ component: 'mdns' }),
  });
  const handlers = createHandlers(
    {
      name: settings.name,
      host: settings.host,
      version: VERSION,
      login,
      kernels,
      conda,
      activity,
      envAdmin,
      get kernelAddress() {
        return current.kernels.address;
      },
      logger: logger.child({ component: 'handlers' }),
    },
    sessions,
  );
  const server: RpcServer = createRpcServer({
    tls: tlsServerOptions(tls, config.tls),
    limits: liveView(() => current.rpc),
    logger,
    handlers,
    onDisconnect: (connection) => {
      sessions.delete(connection.id);
      // A change started on a connection ends with it, as a conda in a closed terminal would.
      envAdmin.operations.connectionClosed(connection.id);
    },
  });

  let address: AddressInfo;
  try {
    // Before listening: the previous daemon's kernels are adopted or stopped (onDaemonStop).
    await kernels.recover();
    address = await server.listen(config.listen.port, config.listen.address);
  } catch (error) {
    await pam.close();
    throw error;
  }

  await writeEndpoint(settings.runtimeDir, {
    pid: process.pid,
    address: address.address,
    port: address.port,
    fingerprint: tls.fingerprint,
    name: settings.name,
  });
  const pruner = setInterval(() => login.sessions.prune(), PRUNE_INTERVAL_MS);
  pruner.unref();

  state = 'running';
  logger.info(
    { address: address.address, port: address.port, mode: settings.mode, name: settings.name },
    `sksd ${VERSION} listening on ${address.address}:${address.port}`,
  );
  await advertiser.start({ address: address.address, port: address.port });
  await warnWithoutConda(conda, logger);

  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      state = 'stopping';
      logger.info({ reason }, 'stopping');
      clearInterval(pruner);
      // Goodbye packets first, so browsers drop the service before its port stops answering.
      await advertiser.stop();
      // Stop taking calls first, so no kernel starts while the others are being stopped.
      await server.close();
      await Promise.all([kernels.close(), envAdmin.shutdown()]);
      // With the kernels gone, their per-user directories would outlive the users themselves
      // (and a reused uid would inherit one). Kept kernels still need theirs.
      if (current.kernels.onDaemonStop === 'stop') {
        await rm(join(settings.runtimeDir, 'kernels'), { recursive: true, force: true });
      }
      await pam.close();
      await removeEndpoint(settings.runtimeDir);
      state = 'stopped';
      logger.info('stopped');
    })();
    return stopping;
  };

  const reconfigure = (next: Config): void => {
    current = next;
    login.reconfigure(next.auth);
    logger.level = next.log.level;
  };

  return { address, fingerprint: tls.fingerprint, state: () => state, stop, reconfigure };
}

/** Says at start, not at a user's first request, that kernels cannot start without conda. */
async function warnWithoutConda(
  conda: () => Promise<CondaExecutable | null>,
  logger: Logger,
): Promise<void> {
  try {
    const found = await conda();
    if (found !== null) logger.info({ conda: found.path, source: found.source }, 'conda found');
    else logger.warn('no conda found (conda.executable, CONDA_EXE, usual prefixes, PATH)');
  } catch (error) {
    logger.warn({ err: error }, 'the configured conda.executable cannot be used');
  }
}

/** The kernel manager's settings from `kernels.*` (seconds become milliseconds). */
function kernelSettings(k: Config['kernels']) {
  return {
    startTimeoutMs: k.startTimeout * 1000,
    shutdownGraceMs: k.shutdownGrace * 1000,
    perUser: k.perUser,
    total: k.total,
    idleTimeoutMs: k.idleTimeout * 1000,
    cullConnected: k.cullConnected,
    onDaemonStop: k.onDaemonStop,
    portRange: k.portRange,
  };
}

/** The environment administrator's settings from `policy.*`. */
function policySettings(p: Config['policy']) {
  return {
    policy: policyFor(p),
    operationTimeoutMs: p.operationTimeout * 1000,
    cancelGraceMs: p.cancelGrace * 1000,
  };
}

async function prepareDirectories(settings: Settings): Promise<void> {
  await mkdir(settings.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(settings.runtimeDir, { recursive: true, mode: 0o755 });
  // Users traverse the runtime directory to reach their own kernel directory; mkdir's mode is
  // masked by the umask and ignored for an existing directory, so set it explicitly.
  await chmod(settings.runtimeDir, 0o755);
}
