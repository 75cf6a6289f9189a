/**
 * Which spyder-kernels series each Spyder release accepts. Spyder checks a kernel's version when it
 * connects and refuses any other series (SPYDER_KERNELS_MIN_VERSION / MAX_VERSION in
 * spyder/plugins/ipythonconsole/__init__.py: 5.2 takes >=2.2.1,<2.3.0, 5.5 takes >=2.5.0,<2.6.0,
 * 6.0 takes >=3.0.0,<3.1.0). sksd checks first, so the user gets a coded error that names the
 * series to install instead of a console that fails after the kernel is already running.
 */

/** Spyder series -> spyder-kernels series, from FIELD-NOTES and Spyder's own constants. */
const KERNEL_SERIES: ReadonlyMap<string, string> = new Map([
  ['5.1', '2.1'],
  ['5.2', '2.2'],
  ['5.3', '2.3'],
  ['5.4', '2.4'],
  ['5.5', '2.5'],
  ['6.0', '3.0'],
  ['6.1', '3.1'],
]);

/** What a Spyder version needs. */
export interface KernelRequirement {
  /** The Spyder series asked about, e.g. `6.0`. */
  readonly spyder: string;
  /** The spyder-kernels series it accepts, e.g. `3.0`. */
  readonly series: string;
  /** The same as a conda match spec, e.g. `spyder-kernels>=3.0,<3.1`. */
  readonly spec: string;
}

/** The outcome of a check; `unknown_spyder` for a Spyder series the table does not know. */
export type Compatibility =
  | { readonly verdict: 'compatible'; readonly requirement: KernelRequirement }
  | { readonly verdict: 'incompatible'; readonly requirement: KernelRequirement }
  | { readonly verdict: 'unknown_spyder' };

/** `major.minor` of a version string (`6.1.0a2` -> `6.1`), or null when it has none. */
export function seriesOf(version: string): string | null {
  const match = /^(\d+)\.(\d+)/.exec(version.trim());
  return match === null ? null : `${Number(match[1])}.${Number(match[2])}`;
}

/** The spyder-kernels series a Spyder version needs, or null when the table does not know it. */
export function kernelRequirement(spyderVersion: string): KernelRequirement | null {
  const spyder = seriesOf(spyderVersion);
  const series = spyder === null ? undefined : KERNEL_SERIES.get(spyder);
  if (spyder === null || series === undefined) return null;

  const [major, minor] = series.split('.').map(Number) as [number, number];
  return { spyder, series, spec: `spyder-kernels>=${series},<${major}.${minor + 1}` };
}

/**
 * Whether an environment's spyder-kernels (null: importable, version unknown) suits the Spyder
 * version. An unknown kernels version is incompatible: nothing says it is the right series.
 */
export function checkCompatibility(
  spyderVersion: string,
  kernelsVersion: string | null,
): Compatibility {
  const requirement = kernelRequirement(spyderVersion);
  if (requirement === null) return { verdict: 'unknown_spyder' };

  const have = kernelsVersion === null ? null : seriesOf(kernelsVersion);
  const verdict = have === requirement.series ? 'compatible' : 'incompatible';
  return { verdict, requirement };
}
