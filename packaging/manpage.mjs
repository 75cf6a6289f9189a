#!/usr/bin/env node
/**
 * Writes sksd(8) from the command line's own --help, so that the manual lists every command and
 * option the built CLI has, including those added after this file was written. The prose around
 * it (signals, files, environment, exit status) is kept here.
 *
 *   node packaging/manpage.mjs [path/to/cli.js] > sksd.8
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const helpCache = new Map();

/** Runs `cli.js ...words --help` (once per command) and returns its output. */
function help(cli, words) {
  const key = `${cli}\0${words.join(' ')}`;
  if (!helpCache.has(key)) helpCache.set(key, run(cli, words));

  return helpCache.get(key);
}

function run(cli, words) {
  return execFileSync(process.execPath, [cli, ...words, '--help'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
}

/** Splits commander's help into usage, description and titled sections of [term, text] rows. */
export function parseHelp(text) {
  const lines = text.replace(/\s+$/, '').split('\n');
  const usage = (lines.shift() ?? '').replace(/^Usage:\s*/, '');
  const description = [];
  const sections = new Map();
  let current = null;

  for (const line of lines) {
    const title = /^(\w[\w ]*):$/.exec(line);
    if (title) {
      current = [];
      sections.set(title[1], current);
    } else if (current === null) {
      if (line.trim() !== '') description.push(line.trim());
    } else if (/^ {2}\S/.test(line)) {
      const [term, ...rest] = line.trim().split(/ {2,}/);
      current.push([term, rest.join(' ')]);
    } else if (line.trim() !== '' && current.length > 0) {
      // A wrapped description continues the previous row.
      const row = current[current.length - 1];
      row[1] = `${row[1]} ${line.trim()}`.trim();
    }
  }

  return { usage, description: description.join(' '), sections };
}

/** Every command path below the top level, depth first: serve, ..., kernel, kernel start, ... */
export function commandTree(cli, words = []) {
  const { sections } = parseHelp(help(cli, words));
  const names = (sections.get('Commands') ?? [])
    .map(([term]) => term.split(' ')[0])
    .filter((name) => name !== 'help');

  return names.flatMap((name) => [[...words, name], ...commandTree(cli, [...words, name])]);
}

/** roff-escapes text for a man page: backslashes, hyphens, and a leading dot or quote. */
export function roff(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/, '\\&$1');
}

function rows(entries) {
  return entries.flatMap(([term, text]) => ['.TP', `.B ${roff(term)}`, roff(text || ' ')]);
}

/** Hand-written [macro line, text] rows as tagged paragraphs. */
function tagged(entries) {
  return entries.flatMap(([term, text]) => ['.TP', term, text]);
}

function synopsis(parsed) {
  // Groups (their usage ends in [command]) are listed through their subcommands.
  if (parsed.sections.has('Commands')) return [];

  const [command, ...rest] = parsed.usage.split(' [options]');
  return ['.br', `.B ${roff(command)}`, roff(`[options]${rest.join(' [options]')}`)];
}

function commandSection(cli, words) {
  const parsed = parseHelp(help(cli, words));
  const out = [
    `.SS "${roff(parsed.usage.replace(/\s*\[options\]/, ''))}"`,
    roff(parsed.description),
  ];
  for (const [title, entries] of parsed.sections) {
    if (title === 'Commands') continue;
    out.push('.PP', `${roff(title)}`, '.RS', ...rows(entries), '.RE');
  }

  return out;
}

const PROSE = {
  description: [
    'sksd starts Spyder kernels (spyder\\-kernels) on a Linux host for users who log in over the',
    'network with their Unix password, as those users and in the conda environment they choose.',
    'Run as root (normally by systemd, from',
    '.IR sksd.service ),',
    '.B sksd serve',
    'serves every user allowed by',
    '.IR /etc/sksd.conf ;',
    'run as another user, it serves that user only. The other commands are clients: they log in',
    'to a daemon on this or another host and start, list and stop kernels.',
  ],
  // [term, text] rows, rendered as tagged paragraphs.
  signals: [
    [
      '.B SIGTERM, SIGINT',
      'Stop: refuse new calls, stop every kernel (shutdown request, SIGTERM,' + ' SIGKILL), exit.',
    ],
    [
      '.B SIGHUP',
      'Read the configuration file again. An invalid file is refused and the' +
        ' configuration in force stays; settings that cannot change while running are logged as' +
        ' needing a restart. systemctl reload sksd sends it.',
    ],
  ],
  files: [
    ['.I /etc/sksd.conf', 'Configuration (YAML); see /usr/share/doc/sksd/configuration.md.'],
    ['.I /etc/pam.d/sksd', 'The PAM service used to check passwords and accounts.'],
    ['.I /var/lib/sksd', 'State: the self\\-signed TLS certificate and key. Back it up.'],
    ['.I /run/sksd/sksd.json', 'Port and certificate fingerprint of the running daemon.'],
    ['.I /run/sksd/kernels/USER', "Connection files and logs of a user's kernels."],
    ['.I ~/.config/sksd/', "A client's pinned fingerprints and session tokens."],
  ],
  environment: [
    ['.B SKSD_PASSWORD', 'Password for client commands, instead of the prompt.'],
    ['.B CONDA_EXE', 'The conda executable, when conda.executable is not configured.'],
    ['.B NOTIFY_SOCKET', 'Set by systemd: readiness, reloads and stops are reported there.'],
  ],
  exit: [
    ['.B 0', 'Success.'],
    ['.B 1', 'Failure; the message or the log says why.'],
    ['.B 78', 'The configuration file is invalid (EX_CONFIG); systemd does not restart.'],
  ],
};

/** The whole page for the CLI at `cli`, stamped with version and date. */
export function buildManPage(cli, version, date) {
  const top = parseHelp(help(cli, []));
  const paths = commandTree(cli);

  return [
    `.TH SKSD 8 "${date}" "sksd ${roff(version)}" "System Administration"`,
    '.SH NAME',
    'sksd \\- Spyder Kernel Spinner Daemon: Spyder kernels on remote Linux hosts',
    '.SH SYNOPSIS',
    ...paths.flatMap((words) => synopsis(parseHelp(help(cli, words)))),
    '.SH DESCRIPTION',
    ...PROSE.description,
    '.SH OPTIONS',
    ...rows(top.sections.get('Options') ?? []),
    '.SH COMMANDS',
    ...paths.flatMap((words) => commandSection(cli, words)),
    '.SH SIGNALS',
    ...tagged(PROSE.signals),
    '.SH FILES',
    ...tagged(PROSE.files),
    '.SH ENVIRONMENT',
    ...tagged(PROSE.environment),
    '.SH EXIT STATUS',
    ...tagged(PROSE.exit),
    '.SH SEE ALSO',
    '.BR systemctl (1),',
    '.BR journalctl (1),',
    '.BR pam (8),',
    'and /usr/share/doc/sksd/ (README.md, operations.md, configuration.md, protocol.md).',
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cli = process.argv[2] ?? fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  const version = execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim();
  process.stdout.write(buildManPage(cli, version, new Date().toISOString().slice(0, 10)));
}
