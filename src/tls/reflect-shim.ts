/**
 * The three Reflect metadata calls that tsyringe (a dependency of @peculiar/x509) checks for at
 * import time. @peculiar/x509 documents `import 'reflect-metadata'` as the fix; this stands in for
 * it until that package is added to package.json, and installs nothing when a real polyfill exists.
 * x509 registers only parameterless classes, so no design-time metadata is ever needed.
 */
type Target = object;
type MetadataReflect = typeof Reflect & {
  getMetadata?: (key: unknown, target: Target) => unknown;
  getOwnMetadata?: (key: unknown, target: Target) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: Target) => void;
};

const reflect = Reflect as MetadataReflect;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<unknown, unknown>>();

  reflect.defineMetadata = (key, value, target) => {
    const own = store.get(target) ?? new Map<unknown, unknown>();
    own.set(key, value);
    store.set(target, own);
  };
  reflect.getOwnMetadata = (key, target) => store.get(target)?.get(key);
  reflect.getMetadata = (key, target) => {
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
      const own = store.get(t);
      if (own?.has(key) === true) return own.get(key);
    }
    return undefined;
  };
}

export {};
