/**
 * `sksd serve`: runs the daemon in the foreground until SIGTERM or SIGINT. Every way down, fatal
 * errors included, goes through the daemon's one stop() with a hard deadline behind it. SIGHUP
 * reloads the config (src/daemon/reload.ts). Under systemd (Type=notify) it reports READY=1 once
 * the daemon serves, RELOADING=1 around a reload and STOPPING=1 on the way down.
 */
import { ConfigError, loadConfig } from '../config/load.js';
import { resolveSettings } from '../config/runtime.js';
import { startDaemon, type Daemon } from '../daemon/daemon.js';
import { SystemdNotifier } from '../daemon/notify.js';
import { ConfigReloader } from '../daemon/reload.js';
import { createLogger, type Logger } from '../log.js';

/** sysexits(3) EX_CONFIG: systemd shows it, and Restart=on-failure need not loop on a bad file. */
const EXIT_CONFIG = 78;

/** Runs the daemon; resolves with the exit code once it has stopped. */
export async function serve(options: { config?: string }): Promise<number> {
  // Node's default for SIGHUP ends the process. One that arrives while starting is kept for later:
  // the file may have changed after it was read.
  let hupWhileStarting = false;
  const earlyHup = (): void => {
    hupWhileStarting = true;
  };
  process.on('SIGHUP', earlyHup);
  // Likewise SIGTERM or SIGINT while starting: Node's default would kill the daemon between
  // writing its endpoint file and installing the real handlers, skipping the stop path. The
  // signal is kept and acted on as soon as there is a daemon to stop.
  let stopWhileStarting: NodeJS.Signals | null = null;
  const earlyStop = (signal: NodeJS.Signals): void => {
    stopWhileStarting ??= signal;
  };
  process.on('SIGTERM', earlyStop);
  process.on('SIGINT', earlyStop);

  let settings;
  try {
    settings = resolveSettings((await loadConfig(options.config)).config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`sksd: invalid configuration, not starting:\n${error.message}\n`);
    return EXIT_CONFIG;
  }

  const logger = createLogger(settings.config.log.level);
  const notifier = new SystemdNotifier(logger);
  let daemon: Daemon;
  try {
    daemon = await startDaemon(settings, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'could not start');
    return 1;
  }

  const reloader = new ConfigReloader({
    file: options.config,
    initial: settings.config,
    apply: (config) => daemon.reconfigure(config),
    logger,
    notifier,
  });
  process.off('SIGHUP', earlyHup);
  process.on('SIGHUP', () => {
    if (daemon.state() === 'running') reloader.request();
  });
  const { address, port } = daemon.address;
  notifier.ready(`serving on ${address}:${port}, certificate ${daemon.fingerprint}`);
  if (hupWhileStarting) reloader.request();

  return new Promise<number>((resolve) => {
    let exitCode = 0;
    const down = (reason: string, code: number): void => {
      exitCode = Math.max(exitCode, code);
      // Kernels get shutdownGrace twice (request, then SIGTERM) plus a margin before SIGKILL.
      const deadlineMs = (reloader.current.kernels.shutdownGrace * 2 + 15) * 1000;
      notifier.stopping(deadlineMs + 5000);
      const timer = setTimeout(() => {
        logger.error({ deadlineMs }, 'shutdown deadline passed; exiting anyway');
        resolve(exitCode || 1);
      }, deadlineMs);
      timer.unref();
      daemon.stop(reason).then(
        () => resolve(exitCode),
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          resolve(1);
        },
      );
    };

    process.off('SIGTERM', earlyStop);
    process.off('SIGINT', earlyStop);
    process.on('SIGTERM', () => down('SIGTERM', 0));
    process.on('SIGINT', () => down('SIGINT', 0));
    installFatalHandlers(logger, (reason) => down(reason, 1));
    if (stopWhileStarting !== null) down(stopWhileStarting, 0);
  });
}

function installFatalHandlers(logger: Logger, down: (reason: string) => void): void {
  // A handler's exception never gets here (the RPC layer catches it); what does is a bug, and the
  // safe answer is to stop the kernels cleanly rather than run on in an unknown state.
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    down('uncaught exception');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    down('unhandled rejection');
  });
}
