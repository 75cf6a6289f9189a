/**
 * Where the CLI gets a password: SKSD_PASSWORD for scripts, a line on stdin when it is not a
 * terminal, otherwise a prompt without echo. Never from a command-line argument (ps shows those).
 */
import { createInterface } from 'node:readline';

/** Reads the password for `user` from the environment, a pipe, or the terminal. */
export async function readPassword(
  user: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const fromEnv = env['SKSD_PASSWORD'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;

  if (!process.stdin.isTTY) return readLine();
  return promptHidden(`Password for ${user}: `);
}

async function readLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
  }
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    const stderr = process.stderr;
    let answer = '';

    const finish = (error?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      stderr.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };

    // Raw mode so that nothing typed is echoed; only Enter, Backspace and Ctrl-C are special.
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') answer = [...answer].slice(0, -1).join('');
        else answer += char;
      }
    };

    stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
