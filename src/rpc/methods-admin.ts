/**
 * Parameter and result shapes of the environment administration methods (envs.create and
 * friends, packages.*, channels.*, ops.*) and the ops.progress notification. methods.ts declares
 * the methods with these; they live here so that the one method table stays readable.
 *
 * The schemas check only shape and size. Names, specs and channels are validated by
 * src/conda/specs.ts, so that each refusal carries its own coded error (invalid_env_name,
 * invalid_spec, invalid_channel) instead of a generic invalid_params.
 */
import { z } from 'zod';
import type { NotificationSpec } from './dispatcher.js';

/** An operation id: chosen by the client (to cancel before the reply) or by the daemon. */
export const opId = z.string().regex(/^[A-Za-z0-9_-]{6,64}$/, 'not an operation id');

const text = (max: number) => z.string().min(1).max(max);
const specs = z.array(text(500)).min(1).max(100);
const channels = z.array(text(1000)).max(20);

/** One installed (or linked, or unlinked) package as conda describes it. */
export const PackageRef = z.object({
  name: z.string(),
  version: z.string(),
  build: z.string(),
  channel: z.string(),
});
export type PackageRef = z.infer<typeof PackageRef>;

/** What a change did: conda's LINK and UNLINK actions, and its message when nothing changed. */
export const ChangeResult = z.object({
  op: opId,
  env: z.object({ name: z.string(), prefix: z.string() }),
  link: z.array(PackageRef),
  unlink: z.array(PackageRef),
  message: z.string().nullable(),
  durationMs: z.number().int().min(0),
});
export type ChangeResult = z.infer<typeof ChangeResult>;

export const EnvsCreateParams = z
  .object({
    name: text(255),
    packages: z.array(text(500)).max(100).optional(),
    channels: channels.optional(),
    python: text(64).optional(),
    /** Create in the conda root prefix (ROOT/envs) for everyone: admins only. */
    shared: z.boolean().optional(),
    op: opId.optional(),
  })
  .strict();

export const EnvsRemoveParams = z.object({ name: text(4096), op: opId.optional() }).strict();

export const EnvsCloneParams = z
  .object({
    from: text(4096),
    name: text(255),
    shared: z.boolean().optional(),
    op: opId.optional(),
  })
  .strict();

export const EnsureKernelParams = z
  .object({ env: text(4096), spyder: text(32).optional(), op: opId.optional() })
  .strict();

export const EnsureKernelResult = z.object({
  /** The operation that installed, or null when nothing had to be installed. */
  op: opId.nullable(),
  env: z.object({ name: z.string(), prefix: z.string() }),
  /** The match spec installed, or null when the environment already had a fitting series. */
  spec: z.string().nullable(),
  changed: z.boolean(),
  before: z.string().nullable(),
  after: z.string().nullable(),
});

export const PackagesListResult = z.object({
  env: z.object({ name: z.string(), prefix: z.string() }),
  packages: z.array(PackageRef),
});

export const PackagesInstallParams = z
  .object({ env: text(4096), specs, channels: channels.optional(), op: opId.optional() })
  .strict();

export const PackagesRemoveParams = z
  .object({ env: text(4096), names: specs, op: opId.optional() })
  .strict();

export const PackagesUpdateParams = z
  .object({
    env: text(4096),
    names: specs.optional(),
    all: z.literal(true).optional(),
    op: opId.optional(),
  })
  .strict()
  .refine(
    (p) => (p.names === undefined) !== (p.all === undefined),
    'give either names or all: true',
  );

/** The user's own channel list (their .condarc) and the list conda actually uses. */
export const ChannelsResult = z.object({
  channels: z.array(z.string()),
  effective: z.array(z.string()),
});

export const ChannelsAddParams = z
  .object({
    channel: text(1000),
    /** top (highest priority, conda's --add), bottom (--append) or an index in the list. */
    position: z.union([z.enum(['top', 'bottom']), z.number().int().min(0).max(100)]).optional(),
  })
  .strict();

export const ChannelsReorderParams = z.object({ channels: z.array(text(1000)).max(100) }).strict();

/** The phases of a long change, in the order conda goes through them. */
export const OpPhase = z.enum(['solving', 'downloading', 'linking', 'cleanup']);
export type OpPhase = z.infer<typeof OpPhase>;

export const OpSummary = z.object({
  op: opId,
  method: z.string(),
  env: z.string(),
  phase: OpPhase,
  startedAt: z.string(),
});

const OpsProgressParams = z.object({
  op: opId,
  method: z.string(),
  env: z.string(),
  phase: OpPhase,
  /** The package being downloaded, as conda names it (name-version). */
  package: z.string().optional(),
  /** That package's download fraction, 0 to 1. */
  fraction: z.number().min(0).max(1).optional(),
  /** Downloads finished and downloads seen so far: conda announces no total in advance. */
  done: z.number().int().min(0),
  total: z.number().int().min(0),
});
export type OpsProgressParams = z.infer<typeof OpsProgressParams>;

/** ops.progress: where a long change stands. Sent only to the connection that started it. */
export const OpsProgress: NotificationSpec<typeof OpsProgressParams> = {
  name: 'ops.progress',
  params: OpsProgressParams,
};
