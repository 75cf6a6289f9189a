/**
 * Reading conda's JSON documents: the actions of create/install/remove/update (LINK and UNLINK,
 * each a dist_fields_dump: name, version, build_string, channel, ...), `conda list --json` (an
 * array of the same records), and `conda config --json` (`get` for --get, the key for --show).
 */
import { z } from 'zod';
import type { PackageRef } from '../rpc/methods-admin.js';

const DistFields = z.object({
  name: z.string(),
  version: z.string(),
  build_string: z.string().optional(),
  build: z.string().optional(),
  channel: z.string().optional(),
});

const Actions = z.object({
  LINK: z.array(z.unknown()).optional(),
  UNLINK: z.array(z.unknown()).optional(),
});

const ChangeDoc = z.object({ message: z.string().optional(), actions: Actions.optional() });

/** One record as sksd reports it; conda 4.3 and older wrote "channel::name-version-build". */
export function packageRef(record: unknown): PackageRef | null {
  if (typeof record === 'string') {
    const [channel, dist] = record.includes('::') ? record.split('::', 2) : ['', record];
    const match = /^(.+)-([^-]+)-([^-]+)$/.exec(dist ?? '');
    if (match === null) return null;
    return {
      name: match[1] ?? '',
      version: match[2] ?? '',
      build: match[3] ?? '',
      channel: channel ?? '',
    };
  }
  const parsed = DistFields.safeParse(record);
  if (!parsed.success) return null;

  const r = parsed.data;
  return {
    name: r.name,
    version: r.version,
    build: r.build_string ?? r.build ?? '',
    channel: r.channel ?? '',
  };
}

function refs(records: readonly unknown[] | undefined): PackageRef[] {
  return (records ?? []).flatMap((r) => packageRef(r) ?? []);
}

/** What a change did, from its final document. */
export function changeOf(json: unknown): {
  link: PackageRef[];
  unlink: PackageRef[];
  message: string | null;
} {
  const doc = ChangeDoc.safeParse(json);
  if (!doc.success) return { link: [], unlink: [], message: null };
  return {
    link: refs(doc.data.actions?.LINK),
    unlink: refs(doc.data.actions?.UNLINK),
    message: doc.data.message ?? null,
  };
}

/** The packages of `conda list --json`, or null when the output is not such a list. */
export function packagesOf(json: unknown): PackageRef[] | null {
  return Array.isArray(json) ? refs(json) : null;
}

const ChannelsDoc = z.object({
  channels: z.array(z.string()).optional(),
  get: z.object({ channels: z.array(z.string()).optional() }).optional(),
});

/** `--get channels` puts them under get, `--show channels` at the top. */
export function channelsOf(json: unknown): { own: string[] | null; shown: string[] | null } {
  const doc = ChannelsDoc.safeParse(json);
  if (!doc.success) return { own: null, shown: null };
  return {
    own: doc.data.get?.channels ?? (doc.data.get ? [] : null),
    shown: doc.data.channels ?? null,
  };
}
