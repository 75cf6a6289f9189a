/**
 * Dispatch: one decoded line in, the reply out. Checks the JSON-RPC 2.0 envelope and batches
 * (spec sections 4 to 6), then login, params and result against the method's declaration in
 * methods.ts. json-rpc-2.0's JSONRPCServer keeps the per-request bookkeeping; it is lenient about
 * envelopes and answers a one-element batch with a bare object, so both are handled here first.
 */
import {
  JSONRPCServer,
  type JSONRPCErrorResponse,
  type JSONRPCID,
  type JSONRPCRequest,
  type JSONRPCResponse,
} from 'json-rpc-2.0';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { SksdError } from './errors.js';
import { Methods, type MethodKey, type MethodSpec, type ResultOf } from './methods.js';

/** A server-to-client notification's declaration: wire name and params schema. */
export interface NotificationSpec<P extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly params: P;
}

/** Sends a notification to this connection's client; dropped once the connection is closing. */
export type Notify = <P extends z.ZodType>(spec: NotificationSpec<P>, params: z.input<P>) => void;

/** What a handler knows about its call and the connection it came on. */
export interface CallContext {
  readonly connectionId: string;
  readonly remoteAddress: string;
  /** The address the client reached, IPv4-mapped prefix removed: what a connection file needs. */
  readonly localAddress: string;
  /** The user logged in on the connection when the call arrived, or null. */
  readonly user: string | null;
  /** The user, or a not_logged_in error. */
  requireUser(): string;
  /** Marks the connection as logged in (auth.login, auth.resume). */
  setUser(user: string): void;
  clearUser(): void;
  readonly notify: Notify;
  /** Child logger that carries the connection id. */
  readonly logger: Logger;
}

type SpecOf<K extends MethodKey> = (typeof Methods)[K];

/** The handler of method K: params as its schema parsed them, a result its schema accepts. */
export type Handler<K extends MethodKey> = (
  params: z.output<SpecOf<K>['params']>,
  ctx: CallContext,
) => ResultOf<K> | Promise<ResultOf<K>>;

/** The handlers a server serves; a declared method without one answers method_not_found. */
export type Handlers = { readonly [K in MethodKey]?: Handler<K> };

/** A reply to one line: one response, a batch of them, or nothing (notifications only). */
export type Reply = JSONRPCResponse | JSONRPCResponse[] | null;

type AnyHandler = (params: unknown, ctx: CallContext) => unknown;
type AnySpec = MethodSpec<z.ZodType, z.ZodType>;

/** Validates and runs calls for one server; shared by all its connections. */
export class Dispatcher {
  private readonly rpc = new JSONRPCServer<CallContext>({ errorListener: () => undefined });

  constructor(
    handlers: Handlers,
    private readonly maxBatch: number,
  ) {
    this.rpc.mapErrorToJSONRPCErrorResponse = (id, error) => errorResponse(id, toSksdError(error));
    this.rpc.handleMethodNotFound = async ({ id }) =>
      id === undefined ? null : errorResponse(id, new SksdError('method_not_found'));

    for (const key of Object.keys(handlers) as MethodKey[]) {
      const spec: AnySpec = Methods[key];
      const handler = handlers[key] as AnyHandler | undefined;
      if (handler === undefined) continue;

      this.rpc.addMethod(spec.name, (params, ctx) => this.invoke(spec, handler, params, ctx));
    }
  }

  /**
   * Answers a parsed line. `context` is called per request, so a login earlier in a batch counts;
   * it returns null once the connection is closing, and the rest of a batch is not run.
   */
  async handle(message: unknown, context: () => CallContext | null): Promise<Reply> {
    const first = context();
    if (first === null) return null;
    if (!Array.isArray(message)) return this.single(message, first);

    // Section 6: an empty array is one invalid request, answered with a single object.
    if (message.length === 0) return errorResponse(null, new SksdError('invalid_request'));
    if (message.length > this.maxBatch) {
      const data = { maxBatch: this.maxBatch };
      return errorResponse(null, new SksdError('batch_too_large', { data }));
    }

    // The spec allows any order; one at a time keeps a batch's cost that of one call and lets a
    // login apply to the calls after it.
    const replies: JSONRPCResponse[] = [];
    let ctx: CallContext | null = first;
    for (const entry of message) {
      if (ctx === null) return null; // shutdown has answered this batch already

      const reply = await this.single(entry, ctx);
      if (reply !== null) replies.push(reply);
      ctx = context();
    }
    return replies.length > 0 ? replies : null;
  }

  private async single(message: unknown, ctx: CallContext): Promise<JSONRPCResponse | null> {
    const problem = envelopeProblem(message);
    if (problem !== null) return errorResponse(problem.id, new SksdError('invalid_request'));

    return this.rpc.receive(message as JSONRPCRequest, ctx);
  }

  private async invoke(spec: AnySpec, handler: AnyHandler, raw: unknown, ctx: CallContext) {
    // Login before params: an anonymous client learns nothing about a method's parameters.
    if (spec.auth && ctx.user === null) throw new SksdError('not_logged_in');

    const params = spec.params.safeParse(raw);
    if (!params.success) {
      throw new SksdError('invalid_params', { data: { issues: issueSummary(params.error) } });
    }

    const started = performance.now();
    let result: unknown;
    try {
      result = await handler(params.data, ctx);
    } catch (error) {
      logFailure(ctx.logger, spec.name, error);
      throw error;
    }

    // Always checked, not only in tests: the result schema is the contract with the client, and
    // parsing drops keys a handler added by mistake before they reach the wire.
    const checked = spec.result.safeParse(result);
    if (!checked.success) {
      const issues = issueSummary(checked.error);
      ctx.logger.error({ method: spec.name, issues }, 'handler result does not match its schema');
      throw new SksdError('internal_error');
    }
    const ms = Math.round(performance.now() - started);
    ctx.logger.debug({ method: spec.name, ms }, 'call done');
    return checked.data;
  }
}

function logFailure(logger: Logger, method: string, error: unknown): void {
  if (error instanceof SksdError) {
    logger.info({ method, error: error.errorName, detail: error.logDetail }, 'call refused');
    return;
  }
  logger.error({ method, err: error }, 'handler failed');
}

/** Parses a line; a parse error is answered at once (section 5.1: -32700, id null). */
export function parseLine(text: string): { message: unknown } | { reply: JSONRPCErrorResponse } {
  try {
    return { message: JSON.parse(text) as unknown };
  } catch {
    return { reply: errorResponse(null, new SksdError('parse_error')) };
  }
}

/** The ids a parsed line awaits answers for: what shutdown answers with shutting_down. */
export function awaitedIds(message: unknown): JSONRPCID[] {
  const entries: unknown[] = Array.isArray(message) ? message : [message];
  return entries.flatMap((entry) => {
    if (envelopeProblem(entry) !== null) return [];

    const { id } = entry as { id?: JSONRPCID };
    return id === undefined ? [] : [id]; // a notification awaits nothing (section 4.1)
  });
}

/** Section 4: is this a Request object? If not, the id to answer with (section 5: null if none). */
function envelopeProblem(message: unknown): { id: JSONRPCID } | null {
  if (typeof message !== 'object' || message === null) return { id: null };

  const m = message as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  if (m.jsonrpc !== '2.0' || typeof m.method !== 'string') return { id };
  if ('id' in m && !isId(m.id)) return { id };
  // Section 4.2: params, when present, is an object or an array.
  if ('params' in m && (typeof m.params !== 'object' || m.params === null)) return { id };
  if ('result' in m || 'error' in m) return { id };
  return null;
}

function isId(value: unknown): value is JSONRPCID {
  return typeof value === 'string' || value === null || Number.isFinite(value);
}

/** An error response carrying the error's wire face. */
export function errorResponse(id: JSONRPCID, error: SksdError): JSONRPCErrorResponse {
  return { jsonrpc: '2.0', id, error: error.toWire() };
}

/** Anything but an SksdError reaches the client as internal_error, its text kept for the log. */
function toSksdError(error: unknown): SksdError {
  return error instanceof SksdError ? error : new SksdError('internal_error');
}

const MAX_ISSUES = 10;
interface IssueSummary {
  field: string;
  problem: string;
  message: string;
}
const SAFE_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * Which fields are wrong and why, from the schema's point of view. zod's messages state what was
 * expected (type, length, pattern), never the value received, so nothing the client sent (a
 * password, say) comes back; key names are passed only when they look like names.
 */
function issueSummary(error: z.ZodError): IssueSummary[] {
  return error.issues.slice(0, MAX_ISSUES).map((issue) => {
    const field = issue.path.map((p) => (SAFE_NAME.test(String(p)) ? String(p) : '?')).join('.');
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown keys: ${issue.keys.map((k) => (SAFE_NAME.test(k) ? k : '?')).join(', ')}`
        : issue.message;
    return { field: field === '' ? '(params)' : field, problem: issue.code, message };
  });
}
