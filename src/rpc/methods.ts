/**
 * Every RPC method, declared once: wire name, whether a login is needed, parameter schema and result
 * schema. The server, the client and the CLI all take names and types from here; no method-name
 * string appears anywhere else.
 */
import { z } from 'zod';
import * as admin from './methods-admin.js';

/** Wire protocol version; bumped on an incompatible change. Announced by sksd.info and mDNS. */
export const PROTOCOL_VERSION = 1;

const userName = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'not a valid Unix user name');

/** A conda environment name or an absolute prefix. Validated again before it reaches conda. */
export const envRef = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.startsWith('-'), 'must not start with "-"')
  .refine((s) => !s.includes('\0') && !/[\n\r]/.test(s), 'contains a control character');

const kernelId = z.string().regex(/^[A-Za-z0-9_-]{6,64}$/, 'not a kernel id');

/** Exactly the Jupyter connection object, nothing more: Spyder 6.2 rejects extra keys. */
export const ConnectionInfo = z
  .object({
    shell_port: z.number().int(),
    iopub_port: z.number().int(),
    stdin_port: z.number().int(),
    control_port: z.number().int(),
    hb_port: z.number().int(),
    ip: z.ipv4(),
    key: z.string().min(10),
    transport: z.literal('tcp'),
    signature_scheme: z.string().startsWith('hmac-'),
    kernel_name: z.string(),
  })
  .strict();
export type ConnectionInfo = z.infer<typeof ConnectionInfo>;

/**
 * A kernel's state. `running` is up with its activity not (yet) known, `idle` and `busy` are what
 * the kernel last published on IOPub; `dead` kernels stay listed for a while with their `exit`.
 */
export const KernelState = z.enum([
  'starting',
  'running',
  'idle',
  'busy',
  'restarting',
  'stopping',
  'dead',
]);
export type KernelState = z.infer<typeof KernelState>;

/** Why and how a kernel ended without its owner asking for it (docs/protocol.md). */
export const KernelExit = z.object({
  reason: z.enum(['exited', 'culled', 'restart_failed', 'lost']),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: z.string(),
  logTail: z.array(z.string()),
});
export type KernelExit = z.infer<typeof KernelExit>;

export const KernelSummary = z.object({
  id: kernelId,
  env: z.string(),
  state: KernelState,
  /** The process group id (the pid of `conda run`). */
  pid: z.number().int().nullable(),
  /** The kernel's own python process, once found. */
  kernelPid: z.number().int().nullable(),
  startedAt: z.string(),
  spyderKernels: z.string().nullable(),
  restarts: z.number().int(),
  lastActivity: z.string().nullable(),
  exit: KernelExit.nullable(),
  connection: ConnectionInfo,
});
export type KernelSummary = z.infer<typeof KernelSummary>;

/** A Spyder version as Spyder reports it (`6.0.3`, `6.1.0a2`); only major.minor is used. */
export const SpyderVersion = z
  .string()
  .max(32)
  .regex(/^\d{1,3}\.\d{1,3}[A-Za-z0-9.+-]*$/, 'not a Spyder version');

export const EnvSummary = z.object({
  name: z.string(),
  prefix: z.string(),
  spyderKernels: z.object({ importable: z.boolean(), version: z.string().nullable() }),
});
export type EnvSummary = z.infer<typeof EnvSummary>;

const none = z.object({}).strict().optional();

/** A method's declaration. P and R are zod schemas for params and result. */
export interface MethodSpec<P extends z.ZodType, R extends z.ZodType> {
  readonly name: string;
  readonly auth: boolean;
  readonly params: P;
  readonly result: R;
}

function method<P extends z.ZodType, R extends z.ZodType>(
  name: string,
  auth: boolean,
  params: P,
  result: R,
): MethodSpec<P, R> {
  return { name, auth, params, result };
}

export const Methods = {
  info: method(
    'sksd.info',
    false,
    none,
    z.object({
      name: z.string(),
      host: z.string(),
      version: z.string(),
      protocol: z.number().int(),
      state: z.enum(['idle', 'busy']),
      capabilities: z.array(z.string()),
      user: z.string().nullable(),
    }),
  ),
  login: method(
    'auth.login',
    false,
    z.object({ user: userName, password: z.string().min(1).max(4096) }).strict(),
    z.object({ user: z.string(), token: z.string(), expiresAt: z.string() }),
  ),
  resume: method(
    'auth.resume',
    false,
    z.object({ token: z.string().min(1).max(256) }).strict(),
    z.object({ user: z.string(), expiresAt: z.string() }),
  ),
  logout: method('auth.logout', true, none, z.object({ ok: z.literal(true) })),
  envsList: method('envs.list', true, none, z.object({ envs: z.array(EnvSummary) })),
  kernelsStart: method(
    'kernels.start',
    true,
    z
      .object({
        env: envRef,
        cwd: z.string().min(1).max(4096).optional(),
        /** The client's Spyder version: a start in an incompatible env is refused. */
        spyder: SpyderVersion.optional(),
      })
      .strict(),
    z.object({
      id: kernelId,
      env: z.string(),
      spyderKernels: z.string().nullable(),
      connection: ConnectionInfo,
    }),
  ),
  kernelsList: method('kernels.list', true, none, z.object({ kernels: z.array(KernelSummary) })),
  kernelsShutdown: method(
    'kernels.shutdown',
    true,
    z.object({ id: kernelId }).strict(),
    z.object({
      id: kernelId,
      outcome: z.enum(['requested', 'terminated', 'killed', 'already_dead']),
      durationMs: z.number().int(),
    }),
  ),
  kernelsInterrupt: method(
    'kernels.interrupt',
    true,
    z.object({ id: kernelId }).strict(),
    z.object({ id: kernelId, pid: z.number().int() }),
  ),
  kernelsRestart: method(
    'kernels.restart',
    true,
    z.object({ id: kernelId }).strict(),
    z.object({ id: kernelId, restarts: z.number().int(), connection: ConnectionInfo }),
  ),
  // Environment administration (issue #5); shapes in methods-admin.ts, behaviour in src/conda.
  envsCreate: method('envs.create', true, admin.EnvsCreateParams, admin.ChangeResult),
  envsRemove: method('envs.remove', true, admin.EnvsRemoveParams, admin.ChangeResult),
  envsClone: method('envs.clone', true, admin.EnvsCloneParams, admin.ChangeResult),
  envsEnsureKernel: method(
    'envs.ensureKernel',
    true,
    admin.EnsureKernelParams,
    admin.EnsureKernelResult,
  ),
  packagesList: method(
    'packages.list',
    true,
    z.object({ env: z.string().min(1).max(4096) }).strict(),
    admin.PackagesListResult,
  ),
  packagesInstall: method(
    'packages.install',
    true,
    admin.PackagesInstallParams,
    admin.ChangeResult,
  ),
  packagesRemove: method('packages.remove', true, admin.PackagesRemoveParams, admin.ChangeResult),
  packagesUpdate: method('packages.update', true, admin.PackagesUpdateParams, admin.ChangeResult),
  channelsList: method('channels.list', true, none, admin.ChannelsResult),
  channelsAdd: method('channels.add', true, admin.ChannelsAddParams, admin.ChannelsResult),
  channelsRemove: method(
    'channels.remove',
    true,
    z.object({ channel: z.string().min(1).max(1000) }).strict(),
    admin.ChannelsResult,
  ),
  channelsReorder: method(
    'channels.reorder',
    true,
    admin.ChannelsReorderParams,
    admin.ChannelsResult,
  ),
  opsList: method('ops.list', true, none, z.object({ ops: z.array(admin.OpSummary) })),
  opsCancel: method(
    'ops.cancel',
    true,
    z.object({ op: admin.opId }).strict(),
    z.object({ op: admin.opId, cancelling: z.literal(true) }),
  ),
} as const;

/** Server-to-client notifications, declared once like the methods. */
export const Notifications = {
  /** A kernel this connection started ended without being asked to: exit, crash, culling. */
  kernelDead: {
    name: 'kernels.dead',
    params: z.object({ id: kernelId, env: z.string(), exit: KernelExit }),
  },
} as const;

export type MethodKey = keyof typeof Methods;
export type ParamsOf<K extends MethodKey> = z.input<(typeof Methods)[K]['params']>;
export type ResultOf<K extends MethodKey> = z.infer<(typeof Methods)[K]['result']>;

/** Capabilities announced by sksd.info: the method names this daemon serves. */
export const CAPABILITIES = Object.values(Methods).map((m) => m.name);
