/**
 * A long-lived Jupyter client for tests, the way Spyder holds a kernel: one jupyter_client
 * BlockingKernelClient (Debian's, under /usr/bin/python3) in a separate process that stays
 * connected across requests, interrupts and restarts. Requests go over stdin as JSON lines; the
 * connection (and its key) too, never on the command line.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ConnectionInfo } from '../../src/rpc/methods.js';
import { LineQueue } from '../helpers/line-queue.js';

const SCRIPT = `
import json, sys
from jupyter_client import BlockingKernelClient

client = BlockingKernelClient()
client.load_connection_info(json.loads(sys.stdin.readline()))
client.start_channels()
client.wait_for_ready(timeout=30)
print(json.dumps({"ready": True}), flush=True)

for line in sys.stdin:
    request = json.loads(line)
    out = []
    def hook(msg):
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
    try:
        reply = client.execute_interactive(request["code"], timeout=request["timeout"],
                                           output_hook=hook, allow_stdin=False)
        content = reply["content"]
        result = {"status": content["status"], "ename": content.get("ename"), "stdout": "".join(out)}
    except Exception as error:
        result = {"status": "client_error", "ename": type(error).__name__, "stdout": "".join(out)}
    print(json.dumps(result), flush=True)
client.stop_channels()
`;

/** An execute_reply as the session reports it. */
export interface SessionReply {
  readonly status: string;
  readonly ename: string | null;
  readonly stdout: string;
}

/** A connected client; close() ends its process. */
export class JupyterSession {
  private readonly lines = new LineQueue(() => this.exited, {
    ended: 'the Jupyter client process exited',
    timeout: 'no answer from the Jupyter client in time',
  });
  private exited = false;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => this.lines.push(line));
    child.stderr.resume();
    child.once('exit', () => {
      this.exited = true;
      this.lines.wake();
    });
  }

  /** Starts the client process and waits until the kernel answered kernel_info. */
  static async open(connection: ConnectionInfo): Promise<JupyterSession> {
    const child = spawn('/usr/bin/python3', ['-c', SCRIPT], { stdio: 'pipe' });
    const session = new JupyterSession(child);
    child.stdin.write(`${JSON.stringify(connection)}\n`);
    await session.lines.next(40_000);
    return session;
  }

  /** Sends code; the promise settles with its execute_reply, so a test can act meanwhile. */
  execute(code: string, timeoutSeconds = 30): Promise<SessionReply> {
    this.child.stdin.write(`${JSON.stringify({ code, timeout: timeoutSeconds })}\n`);
    return this.lines
      .next((timeoutSeconds + 10) * 1000)
      .then((line) => JSON.parse(line) as SessionReply);
  }

  /**
   * Sends code the way a client does right after an interrupt: ipykernel (stop_on_error) aborts
   * the requests that reach it while it still unwinds the interrupted one, replying `aborted`, so a
   * request is sent again, a few times at most, until the kernel runs it.
   */
  async executeAfterInterrupt(code: string): Promise<SessionReply> {
    let reply = await this.execute(code);
    for (let attempt = 1; attempt < 5 && reply.status === 'aborted'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      reply = await this.execute(code);
    }
    return reply;
  }

  /** Ends the client (its sockets close with it). */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    // A client still waiting for a reply from a dead kernel would sit out its timeout.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }
}
