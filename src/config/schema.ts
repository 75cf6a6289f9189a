/**
 * The configuration schema: the single source of truth for validation and defaults. The example
 * config (sksd.conf.example) and docs/configuration.md describe exactly these keys; a test keeps
 * the three in step.
 */
import { z } from 'zod';

const seconds = (def: number, max: number) => z.number().int().min(1).max(max).default(def);

const unixName = z
  .string()
  .regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'not a valid Unix user or group name');

const port = z.number().int().min(1024).max(65535);

/** kernels.portRange: room for at least one kernel's five connection-file ports. */
const portRange = z
  .object({ first: port, last: port })
  .strict()
  .refine((r) => r.last - r.first + 1 >= 5, {
    message: 'first..last must hold at least 5 ports (one kernel), and first <= last',
    path: ['last'],
  });

export const ConfigSchema = z
  .object({
    /** Friendly machine name shown to clients; null means the host name. */
    name: z.string().min(1).max(200).nullable().default(null),
    listen: z
      .object({
        address: z.string().min(1).default('0.0.0.0'),
        /** 0 means: find a free port. */
        port: z.number().int().min(0).max(65535).default(0),
      })
      .strict()
      .prefault({}),
    mdns: z
      .object({
        /** Announce `_sksd._tcp` with multicast DNS (docs/discovery.md). */
        enabled: z.boolean().default(true),
        /** Interface names or their IPv4 addresses; empty: every non-loopback interface. */
        interfaces: z.array(z.union([z.ipv4(), z.string().regex(/^[\w.:@-]{1,15}$/)])).default([]),
        /** Seconds the idle/busy state must hold before it is announced. */
        debounce: z.number().int().min(0).max(60).default(1),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /** PEM certificate and key; both null means a self-signed one kept in the state directory. */
        cert: z.string().min(1).nullable().default(null),
        key: z.string().min(1).nullable().default(null),
        minVersion: z.enum(['TLSv1.3', 'TLSv1.2']).default('TLSv1.3'),
      })
      .strict()
      .refine((t) => (t.cert === null) === (t.key === null), {
        message: 'set both cert and key, or neither',
      })
      .prefault({}),
    paths: z
      .object({
        /** null: /var/lib/sksd as root, ~/.local/state/sksd otherwise. */
        state: z.string().min(1).nullable().default(null),
        /** null: /run/sksd as root, $XDG_RUNTIME_DIR/sksd (or state/run) otherwise. */
        runtime: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    conda: z
      .object({
        /** conda, mamba or micromamba; null means auto-detect. */
        executable: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        pamService: z
          .string()
          .regex(/^[a-z0-9_.-]+$/i)
          .default('sksd'),
        /** Empty: every user with a valid account (less denyUsers). */
        allowUsers: z.array(unixName).default([]),
        allowGroups: z.array(unixName).default([]),
        denyUsers: z.array(unixName).default(['root']),
        sessionTtl: seconds(43200, 30 * 86400),
        /** Failed logins allowed per user and per client address within failureWindow. */
        maxFailuresPerUser: z.number().int().min(1).max(1000).default(5),
        maxFailuresPerAddress: z.number().int().min(1).max(10000).default(20),
        failureWindow: seconds(300, 86400),
        /** PAM conversations that may run at once, each on its own thread. */
        pamConcurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .prefault({}),
    kernels: z
      .object({
        perUser: z.number().int().min(1).max(1000).default(4),
        /** Address put in connection files; null means the address the client reached. */
        address: z.ipv4().nullable().default(null),
        startTimeout: seconds(60, 3600),
        /** Grace after the shutdown request, then after SIGTERM, before SIGKILL. */
        shutdownGrace: seconds(5, 600),
        /** Kernels of all users together. */
        total: z.number().int().min(1).max(10000).default(64),
        /** Seconds without client activity before a kernel is shut down; 0: never. */
        idleTimeout: z
          .number()
          .int()
          .min(0)
          .max(30 * 86400)
          .default(0),
        /** Whether idle culling also takes kernels a client is still connected to. */
        cullConnected: z.boolean().default(false),
        /** What the daemon does with running kernels when it stops (docs/configuration.md). */
        onDaemonStop: z.enum(['stop', 'keep']).default('stop'),
        /** The kernels' connection-file ports, for a firewall; null: any free port (portRange). */
        portRange: portRange.nullable().default(null),
      })
      .strict()
      .prefault({}),
    policy: z
      .object({
        /** false: every environment administration method answers forbidden. */
        manageEnvs: z.boolean().default(true),
        /** Who may create, clone and remove their own environments; both empty: every user. */
        createUsers: z.array(unixName).default([]),
        createGroups: z.array(unixName).default([]),
        /** Admins of the shared environments in the conda root prefix (base, ROOT/envs). */
        adminUsers: z.array(unixName).default([]),
        adminGroups: z.array(unixName).default([]),
        /** Channels allowed (names or URLs); empty: any channel. */
        allowChannels: z.array(z.string().min(1).max(1000)).default([]),
        /** Package names (* globs) that may be named in a request; empty: any. */
        allowPackages: z.array(z.string().min(1).max(200)).default([]),
        denyPackages: z.array(z.string().min(1).max(200)).default([]),
        /** Environments one user may own; 0: no limit. */
        maxEnvsPerUser: z.number().int().min(0).max(10000).default(0),
        /** Seconds a change may run before it is cancelled. */
        operationTimeout: seconds(3600, 7 * 86400),
        /** Seconds conda gets to roll back after a cancel (SIGTERM) before SIGKILL. */
        cancelGrace: seconds(30, 3600),
      })
      .strict()
      .prefault({}),
    rpc: z
      .object({
        maxMessageBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        maxBatch: z.number().int().min(1).max(1000).default(20),
        idleTimeout: seconds(600, 86400),
        maxConnections: z.number().int().min(1).max(100000).default(256),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The validated configuration, every default filled in. */
export type Config = z.infer<typeof ConfigSchema>;
