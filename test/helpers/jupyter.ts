/**
 * Talks to a kernel with the real jupyter_client (Debian's, under /usr/bin/python3) in a separate
 * process, the way Spyder would: a BlockingKernelClient from the connection object. The connection
 * (and its key) goes over stdin, not the command line.
 */
import { execFile } from 'node:child_process';
import type { ConnectionInfo } from '../../src/rpc/methods.js';

const SCRIPT = `
import json, sys
from jupyter_client import BlockingKernelClient

request = json.load(sys.stdin)
client = BlockingKernelClient()
client.load_connection_info(request["connection"])
client.start_channels()
out = []

def hook(msg):
    if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
        out.append(msg["content"]["text"])

try:
    client.wait_for_ready(timeout=request["timeout"])
    timeout = request["timeout"]
    reply = client.execute_interactive(request["code"], timeout=timeout, output_hook=hook)
    json.dump({"status": reply["content"]["status"], "stdout": "".join(out)}, sys.stdout)
finally:
    client.stop_channels()
`;

/** What the executed code printed, and the execute_reply status. */
export interface ExecuteResult {
  status: string;
  stdout: string;
}

/** Executes code in the kernel through jupyter_client and returns what it printed. */
export function executeInKernel(
  connection: ConnectionInfo,
  code: string,
  timeoutSeconds = 30,
): Promise<ExecuteResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      ['-c', SCRIPT],
      { timeout: (timeoutSeconds + 10) * 1000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`jupyter_client failed: ${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as ExecuteResult);
      },
    );
    child.stdin?.end(JSON.stringify({ connection, code, timeout: timeoutSeconds }));
  });
}
