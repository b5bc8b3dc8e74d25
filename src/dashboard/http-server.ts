/**
 * The dashboard's HTTP surface: the page and its files, the JSON API and the live stream. Every
 * response carries a strict Content-Security-Policy; the page's script is the only script it can
 * run, and it inserts bus data as text only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActionResult, OperatorAction, OperatorActions } from './actions.js';
import { OPERATOR_ACTIONS } from './actions.js';
import type { TokenCheck } from './auth.js';
import type { FleetModel } from './fleet-model.js';
import type { StaticFile } from './static-files.js';
import type { StreamHub } from './stream.js';

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

export interface RouteContext {
  model: FleetModel;
  files: Map<string, StaticFile>;
  token: TokenCheck;
  hub: StreamHub;
  actions: OperatorActions | null;
  /** Host header values accepted (DNS-rebinding guard), or null to accept any. */
  hosts: Set<string> | null;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function handleRequest(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  if (ctx.hosts !== null && !ctx.hosts.has(req.headers.host ?? '')) return send(res, 421, 'text/plain; charset=utf-8', 'unexpected Host header\n');
  const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
  const path = url.pathname;
  if (req.method === 'GET' && path === '/' && ctx.token.required && url.searchParams.has('token')) {
    if (!ctx.token.matches(url.searchParams.get('token'))) return send(res, 401, 'text/plain; charset=utf-8', 'wrong token\n');
    // The token moves into an HttpOnly cookie and out of the address bar and history.
    return send(res, 303, 'text/plain; charset=utf-8', '', { location: '/', 'set-cookie': ctx.token.cookie() });
  }
  if (!ctx.token.allows(req)) {
    return send(res, 401, 'text/plain; charset=utf-8', 'a bearer token is required: Authorization: Bearer <token>, or open /?token=<token>\n', { 'www-authenticate': 'Bearer' });
  }
  if (req.method === 'POST') return void handleAction(ctx, req, res, path);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD, POST' });
  const now = Date.now();
  if (path === '/api/fleet') {
    const view = ctx.model.view(now);
    return json(res, 200, url.searchParams.get('history') === '1' ? { ...view, history: ctx.model.history() } : view);
  }
  if (path === '/api/events') return json(res, 200, ctx.model.events(intParam(url, 'since'), intParam(url, 'limit')));
  if (path === '/api/stream') {
    const opened = ctx.hub.add(res, [['snapshot', { fleet: ctx.model.view(now), history: ctx.model.history(), events: ctx.model.events() }]]);
    if (!opened) json(res, 503, { error: 'too many live streams' });
    return;
  }
  const name = path === '/' ? 'index.html' : path.startsWith('/static/') ? path.slice(8) : null;
  const file = name === null ? undefined : ctx.files.get(name);
  if (file === undefined) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  return send(res, 200, file.type, file.body);
}

async function handleAction(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  req.resume(); // no body is read: the action is in the path
  const m = /^\/api\/workers\/([A-Za-z0-9_-]{1,128})\/([a-z]+)$/.exec(path);
  if (m === null) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (ctx.actions === null) return json(res, 403, { error: 'operator actions are disabled: start the dashboard with --allow-actions' });
  // Cross-site requests cannot set this header without a preflight, which is never granted.
  if (req.headers['x-natsrpc-action'] !== '1') return json(res, 403, { error: 'missing X-Natsrpc-Action header' });
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) return json(res, 403, { error: 'cross-origin action refused' });
  const action = m[2] as OperatorAction;
  if (!(OPERATOR_ACTIONS as readonly string[]).includes(action)) return json(res, 404, { error: `unknown action ${JSON.stringify(action)}` });
  const requester = `${req.socket.remoteAddress ?? '?'}`;
  const result: ActionResult = await ctx.actions.run(m[1]!, action, requester);
  json(res, result.ok ? 200 : 502, result);
}
