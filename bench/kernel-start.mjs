#!/usr/bin/env node
/**
 * `npm run bench`: how long a kernel takes to be usable, directly and through sksd, and what the
 * daemon costs. Prints, in one run:
 *   (a) a direct start, `conda run ... spyder_kernels.console` as the user (conda stand-in), to the
 *       first execute_reply of a real Jupyter client;
 *   (b) the same through sksd: TLS connect, login, kernels.start, first execute_reply; and b / a;
 *   (c) 20 concurrent starts by 5 users (connect, login, kernels.start): successes, p50, p95;
 *   (d) the daemon's RSS idle and with those 20 kernels running.
 * Medians over BENCH_RUNS starts each (default 7), after one unmeasured warm-up of each.
 * Needs root (it creates users sksdtbench*, removed at the end) and the build in dist/.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../dist/rpc/client.js';
import { Methods } from '../dist/rpc/methods.js';
import { newConnection, writeConnectionFile } from '../dist/kernels/connection-file.js';
import { warmClient } from './jupyter.mjs';
import * as setup from './setup.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CONCURRENT_USERS = 5;
const PER_USER = 4;

const median = (xs) => percentile(xs, 50);
function percentile(xs, p) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}
const ms = (x) => `${Math.round(x)} ms`;

/** (a) One direct start as the user, timed to the first execute_reply. */
async function directStart(user, conda, dir) {
  // As sksd does it: a directory of the user's own, below one the user may traverse.
  mkdirSync(join(dir, 'direct'), { recursive: true });
  chmodSync(join(dir, 'direct'), 0o755);
  const home = join(dir, 'direct', user.name);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  chownSync(home, user.uid, user.gid);
  const connection = await newConnection('127.0.0.1');
  const file = join(home, `kernel-${Date.now()}.json`);
  await writeConnectionFile(file, connection, user);
  const log = openSync(join(home, 'kernel.log'), 'a');
  const client = await warmClient();

  const started = performance.now();
  const ids = [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups'];
  const argv = [conda.conda, 'run', '--no-capture-output', '-p', conda.prefix, 'python', '-m'];
  const kernelArgs = ['spyder_kernels.console', '-f', file, '--ip=127.0.0.1'];
  const child = spawn('/usr/bin/setpriv', [...ids, '--', ...argv, ...kernelArgs], {
    cwd: user.home,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: '/bin/bash',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
    },
  });
  const status = await client.run(connection).catch((error) => {
    process.stderr.write(readFileSync(join(home, 'kernel.log'), 'utf8').slice(-3000));
    throw error;
  });
  const elapsed = performance.now() - started;

  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGKILL');
  await exited;
  closeSync(log);
  if (status !== 'ok') throw new Error(`direct start: execute_reply ${status}`);
  return elapsed;
}

/** A logged-in client of the daemon; the clock includes TLS and PAM. */
async function session(daemon, user, token) {
  const client = await connect({
    host: '127.0.0.1',
    port: daemon.port,
    pinnedFingerprint: daemon.fingerprint,
  });
  if (token === undefined) {
    await client.call(Methods.login, { user: user.name, password: user.password });
  } else {
    await client.call(Methods.resume, { token });
  }
  return client;
}

/** (b) One start through sksd, timed from connect to the first execute_reply. */
async function sksdStart(daemon, user, token) {
  const jupyter = await warmClient();
  const started = performance.now();
  const client = await session(daemon, user, token);
  const kernel = await client.call(Methods.kernelsStart, { env: 'bench' });
  const status = await jupyter.run(kernel.connection);
  const elapsed = performance.now() - started;

  await client.call(Methods.kernelsShutdown, { id: kernel.id });
  await client.close();
  if (status !== 'ok') throw new Error(`sksd start: execute_reply ${status}`);
  return elapsed;
}

/** (c) Every user starts PER_USER kernels at once; returns latencies, failures and the clients. */
async function concurrentStarts(daemon, users) {
  const attempts = users.flatMap((user) => Array.from({ length: PER_USER }, () => user));
  const results = await Promise.all(
    attempts.map(async (user) => {
      const started = performance.now();
      try {
        const client = await session(daemon, user);
        const kernel = await client.call(Methods.kernelsStart, { env: 'bench' });
        return {
          ok: true,
          ms: performance.now() - started,
          client,
          id: kernel.id,
          user: user.name,
        };
      } catch (error) {
        return {
          ok: false,
          user: user.name,
          ms: performance.now() - started,
          error: `${error?.message ?? error} ${String(error?.data?.stderrTail ?? '').slice(-300)}`,
        };
      }
    }),
  );
  return results;
}

/** (a), (b) and (b2) in turns, so that drift of the machine hits all three alike. */
async function sequentialStarts(daemon, user, conda, dir) {
  const probe = await session(daemon, user);
  const { token } = await probe.call(Methods.login, { user: user.name, password: user.password });
  await probe.close();

  await directStart(user, conda, dir);
  await sksdStart(daemon, user);
  const runs = { direct: [], login: [], token: [] };
  for (let i = 0; i < RUNS; i++) {
    runs.direct.push(await directStart(user, conda, dir));
    runs.login.push(await sksdStart(daemon, user));
    runs.token.push(await sksdStart(daemon, user, token));
  }
  return runs;
}

/** Prints the figures for people, then one JSON line for scripts. */
function report(runs, concurrent, rss) {
  const list = (xs) => `[${xs.map(Math.round).join(', ')}]`;
  const [a, b, b2] = [median(runs.direct), median(runs.login), median(runs.token)];
  console.log(`(a)  direct start to first execute_reply: median ${ms(a)}  ${list(runs.direct)}`);
  console.log(`(b)  through sksd (TLS, login, kernels.start, execute_reply): median ${ms(b)}`);
  console.log(`     ${list(runs.login)}`);
  console.log(`     ratio b / a: ${(b / a).toFixed(3)} (target <= 1.05)`);
  console.log(
    `(b2) the same with a session token (auth.resume) instead of the password: ${ms(b2)}`,
  );
  console.log(`     ${list(runs.token)}; ratio b2 / a: ${(b2 / a).toFixed(3)}`);

  const ok = concurrent.filter((r) => r.ok);
  const latencies = ok.map((r) => r.ms);
  const [p50, p95] = [median(latencies), percentile(latencies, 95)];
  const users = new Set(concurrent.map((r) => r.user)).size;
  console.log(
    `(c)  ${concurrent.length} concurrent starts by ${users} users (connect, login, start):`,
  );
  console.log(`     ${ok.length} succeeded, p50 ${ms(p50)}, p95 ${ms(p95)}`);
  for (const failed of concurrent.filter((r) => !r.ok)) console.log(`     failed: ${failed.error}`);
  const { idle, loaded } = rss;
  console.log(
    `(d)  daemon RSS: idle ${idle.toFixed(1)} MiB, with ${ok.length} kernels ${loaded.toFixed(1)} MiB`,
  );

  const summary = {
    runs: RUNS,
    directMs: a,
    sksdMs: b,
    ratio: b / a,
    sksdTokenMs: b2,
    ratioToken: b2 / a,
    concurrent: { total: concurrent.length, ok: ok.length, p50, p95 },
    rssMiB: rss,
  };
  console.log(`\n${JSON.stringify(summary)}`);
}

async function main() {
  if (process.getuid?.() !== 0)
    throw new Error('run the benchmark as root: it creates users and logs in with PAM');
  const dir = setup.benchDir();
  let users = [];
  let daemon = null;
  const cleanup = async () => {
    await daemon?.stop().catch(() => undefined);
    setup.removeUsers(users);
    setup.removeDir(dir);
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    setup.installPam();
    users = setup.createUsers(CONCURRENT_USERS);
    const conda = setup.makeConda(dir);
    daemon = await setup.startDaemon(dir, {
      conda: { executable: conda.conda },
      kernels: { perUser: PER_USER, total: 64, startTimeout: 180 },
    });
    const [user] = users;
    console.log(`machine: ${setup.machine()}`);
    console.log(`runs: ${RUNS} of each, after one warm-up of each\n`);

    const rssIdle = setup.rssMiB(daemon.pid);
    const starts = await sequentialStarts(daemon, user, conda, dir);
    const concurrent = await concurrentStarts(daemon, users);
    const rssLoaded = setup.rssMiB(daemon.pid);
    const ok = concurrent.filter((r) => r.ok);
    report(starts, concurrent, { idle: rssIdle, loaded: rssLoaded });

    await Promise.all(
      ok.map((r) =>
        r.client.call(Methods.kernelsShutdown, { id: r.id }).finally(() => r.client.close()),
      ),
    );
    if (ok.length !== concurrent.length) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
