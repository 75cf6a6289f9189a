/**
 * The body of a PAM worker thread, as JavaScript source text.
 *
 * Why a string and not a worker file: the build is plain `tsc` (no copy step for .js/.cjs assets),
 * and under vitest the sources are .ts, which Node 20 cannot load in a Worker (no type stripping).
 * `new Worker(PAM_WORKER_SOURCE, { eval: true })` runs the same code from dist/ and from src/ with
 * nothing to resolve but koffi's path, which pam.ts passes in workerData. The price is that this
 * code is not type-checked; test/auth/pam.test.ts runs every branch against real PAM instead.
 *
 * Protocol. In: { id, service, user, rhost, password: Uint8Array (transferred) }.
 * Out: { id, step: 'start' | 'authenticate' | 'acct_mgmt' | 'done', code, text }, where step is
 * the call that failed ('done' when all passed), code the PAM return code, text pam_strerror(code).
 * One job at a time: the message handler is synchronous, so a worker never interleaves two calls.
 */

/** CommonJS source for `new Worker(..., { eval: true, workerData: { koffiPath } })`. */
export const PAM_WORKER_SOURCE = String.raw`'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);

const PAM_SUCCESS = 0, PAM_BUF_ERR = 5, PAM_CONV_ERR = 19, PAM_RHOST = 4, PAM_MAX_NUM_MSG = 32;
const PAM_PROMPT_ECHO_OFF = 1, PAM_ERROR_MSG = 3, PAM_TEXT_INFO = 4;
// PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK: common-auth says nullok, sksd never accepts an empty one.
const FLAGS = 0x8000 | 0x0001;
const PTR = koffi.sizeof('void *');

const libc = koffi.load('libc.so.6');
const calloc = libc.func('void *calloc(size_t n, size_t size)');
const free = libc.func('void free(void *p)');
const memcpy = libc.func('void *memcpy(void *dst, const void *src, size_t n)');
const strlen = libc.func('size_t strlen(void *s)');
const explicit_bzero = libc.func('void explicit_bzero(void *p, size_t n)');

const Response = koffi.struct('sksd_pam_response', { resp: 'void *', resp_retcode: 'int' });
const RESPONSE_SIZE = koffi.sizeof(Response);
const Conv = koffi.proto('int sksd_pam_conv_fn(int n, void *msg, void *resp, void *data)');
koffi.struct('sksd_pam_conv', { conv: koffi.pointer(Conv), appdata_ptr: 'void *' });

const pam = koffi.load(workerData.library);
const pam_start = pam.func(
  'int pam_start(const char *svc, const char *user, const sksd_pam_conv *conv, _Out_ void **h)');
const pam_set_item = pam.func('int pam_set_item(void *h, int type, const char *item)');
const pam_authenticate = pam.func('int pam_authenticate(void *h, int flags)');
const pam_acct_mgmt = pam.func('int pam_acct_mgmt(void *h, int flags)');
const pam_end = pam.func('int pam_end(void *h, int status)');
const pam_strerror = pam.func('const char *pam_strerror(void *h, int code)');

// The password of the job in progress; zeroed and dropped as soon as PAM returns.
let secret = null;

function dropReplies(replies, n) {
  for (let i = 0; i < n; i++) {
    const p = koffi.decode(replies, i * RESPONSE_SIZE, 'void *');
    if (p) {
      explicit_bzero(p, strlen(p));
      free(p);
    }
  }
  free(replies);
}

// PAM frees the replies with free(), so they live in malloc'd memory. Linux-PAM zeroes a password
// reply before freeing it (pam_get_authtok) and wipes PAM_AUTHTOK in pam_end. Linux-PAM passes msg
// as an array of pointers to pam_message; msg_style is the first field of each.
function converse(n, msgs, respOut) {
  if (n <= 0 || n > PAM_MAX_NUM_MSG || !msgs || !respOut) return PAM_CONV_ERR;
  const replies = calloc(n, RESPONSE_SIZE);
  if (!replies) return PAM_BUF_ERR;

  try {
    for (let i = 0; i < n; i++) {
      const style = koffi.decode(koffi.decode(msgs, i * PTR, 'void *'), 'int');
      if (style === PAM_ERROR_MSG || style === PAM_TEXT_INFO) continue;
      // An echoed prompt (a user name, a one-time code) is a question sksd cannot answer.
      if (style !== PAM_PROMPT_ECHO_OFF || secret === null) throw new Error('unanswerable');
      const copy = calloc(secret.length + 1, 1);
      if (!copy) throw new Error('out of memory');
      memcpy(copy, secret, secret.length);
      koffi.encode(replies, i * RESPONSE_SIZE, 'void *', copy);
    }
  } catch {
    // koffi would turn an escaping exception into 0, which is PAM_SUCCESS: never let one out.
    dropReplies(replies, n);
    return PAM_CONV_ERR;
  }
  koffi.encode(respOut, 'void *', replies);
  return PAM_SUCCESS;
}

// Registered, not transient: PAM keeps the conversation and calls it later, from
// pam_authenticate. One registration per worker, released when the thread ends.
const convPtr = koffi.register(converse, koffi.pointer(Conv));

function check(job) {
  const handle = [null];
  let rc = pam_start(job.service, job.user, { conv: convPtr, appdata_ptr: null }, handle);
  if (rc !== PAM_SUCCESS) return { step: 'start', code: rc, text: pam_strerror(null, rc) };

  const pamh = handle[0];
  let step = 'start';
  try {
    if (job.rhost) rc = pam_set_item(pamh, PAM_RHOST, job.rhost);
    if (rc === PAM_SUCCESS) {
      step = 'authenticate';
      rc = pam_authenticate(pamh, FLAGS);
    }
    // A right password says nothing about an expired or locked-out account (jupyterhub/pamela#27).
    if (rc === PAM_SUCCESS) {
      step = 'acct_mgmt';
      rc = pam_acct_mgmt(pamh, FLAGS);
    }
    return { step: rc === PAM_SUCCESS ? 'done' : step, code: rc, text: pam_strerror(pamh, rc) };
  } finally {
    pam_end(pamh, rc);
  }
}

parentPort.on('message', (job) => {
  secret = Buffer.from(job.password.buffer, job.password.byteOffset, job.password.byteLength);
  try {
    parentPort.postMessage({ id: job.id, ...check(job) });
  } finally {
    secret.fill(0);
    secret = null;
  }
});
`;
