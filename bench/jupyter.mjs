/**
 * A real Jupyter client (Debian's jupyter_client under /usr/bin/python3), started and imported
 * before the clock starts, so that its own start-up (about 0.3 s of imports) is in no figure. It
 * takes a connection object on stdin, waits for the kernel, runs `1` and reports its reply.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// wait_for_ready() is not used: it gives up ("Kernel died before replying") when the heartbeat
// has not answered within its first second, which a kernel still starting never has. Asking
// kernel_info until a reply comes is what a patient client does.
const SCRIPT = `
import json, queue, sys, time
from jupyter_client import BlockingKernelClient
print("ready", flush=True)
connection = json.loads(sys.stdin.readline())
client = BlockingKernelClient()
client.load_connection_info(connection)
client.start_channels()
try:
    deadline = time.monotonic() + 120
    asked = set()
    while time.monotonic() < deadline:
        asked.add(client.kernel_info())
        try:
            reply = client.get_shell_msg(timeout=1)
        except queue.Empty:
            continue
        if reply["parent_header"].get("msg_id") in asked:
            break
    else:
        raise TimeoutError("no kernel_info_reply")
    # The execute_reply on the shell channel is the figure; IOPub output is not waited for.
    sent = client.execute("1")
    while True:
        reply = client.get_shell_msg(timeout=120)
        if reply["parent_header"].get("msg_id") == sent:
            break
    print(reply["content"]["status"], flush=True)
finally:
    client.stop_channels()
`;

/** A client waiting for its connection; run() hands it over and resolves with the reply status. */
export async function warmClient() {
  const child = spawn('/usr/bin/python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const queue = [];
  let waiting = null;
  lines.on('line', (line) => {
    queue.push(line);
    waiting?.();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const next = async () => {
    while (queue.length === 0) {
      if (child.exitCode !== null) throw new Error('the Jupyter client exited');
      await Promise.race([new Promise((resolve) => (waiting = resolve)), exited]);
    }
    return queue.shift();
  };

  if ((await next()) !== 'ready') throw new Error('the Jupyter client did not start');
  return {
    /** Sends the connection; resolves with the execute_reply status ("ok"). */
    async run(connection) {
      child.stdin.end(`${JSON.stringify(connection)}\n`);
      const status = await next();
      await exited;
      return status;
    },
    kill: () => child.kill('SIGKILL'),
  };
}
