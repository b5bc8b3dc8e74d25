/**
 * Asks every worker at once (`$SRV.<verb>[.<service>]`, no queue group, so each answers for
 * itself) and gathers the answers that arrive within a window, up to a maximum count. The bus is
 * read through gatherAnswers (connection/request.ts): the broker's 503 (nobody listens) and
 * answers with a header block over the limits never reach the checks here.
 */
import type { NatsConnection } from 'nats';
import { gatherAnswers } from '../../connection/request.js';
import { SERVICE_API_PREFIX } from '../../worker/service-discovery.js';
import { checkAnswer, type AnswerOf, type DiscoveryVerb } from './answers.js';

/** How long answers are gathered by default, in ms. */
export const DEFAULT_DISCOVERY_WINDOW_MS = 1_000;
/** At most this many answers are kept; more are counted as dropped. */
export const MAX_DISCOVERY_ANSWERS = 10_000;

export interface Collected<T> {
  /** Checked answers, one per worker id, sorted by service name then id. */
  answers: T[];
  /** Answers that were not JSON or not of the expected shape. */
  invalid: number;
  /** Answers beyond MAX_DISCOVERY_ANSWERS, or repeating a worker id already heard. */
  dropped: number;
}

export async function collectAnswers<V extends DiscoveryVerb>(
  nc: NatsConnection,
  verb: V,
  service: string | undefined,
  windowMs: number,
  inboxPrefix?: string,
): Promise<Collected<AnswerOf[V]>> {
  const subject = service === undefined ? `${SERVICE_API_PREFIX}.${verb}` : `${SERVICE_API_PREFIX}.${verb}.${service}`;
  const byId = new Map<string, AnswerOf[V]>();
  let invalid = 0;
  let dropped = 0;
  const decoder = new TextDecoder();
  // Replies under the caller's own inbox prefix: permissions may confine its replies to it. The
  // whole window is waited out, so answers past the maximum are counted as dropped.
  await gatherAnswers(nc, subject, new Uint8Array(0), windowMs, (msg) => {
    if (byId.size >= MAX_DISCOVERY_ANSWERS) {
      dropped++;
      return false;
    }
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(msg.data));
    } catch {
      invalid++;
      return false;
    }
    const answer = checkAnswer(verb, value);
    if (answer === null) invalid++;
    else if (byId.has(answer.id)) dropped++;
    else byId.set(answer.id, answer);
    return false;
  }, inboxPrefix);
  const answers = [...byId.values()].sort((a, b) => (a.name === b.name ? (a.id < b.id ? -1 : 1) : a.name < b.name ? -1 : 1));
  return { answers, invalid, dropped };
}
