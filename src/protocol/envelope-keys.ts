/**
 * The msgpack bytes of the envelope keys, computed once: the hot-path writer copies them and the
 * reader compares them in place, so neither encodes or decodes a key string per message.
 */
import { Encoder } from '@msgpack/msgpack';

const keyBytes = (k: string): Uint8Array => new Encoder().encode(k);
export const K_V = keyBytes('v');
export const K_ID = keyBytes('id');
export const K_METHOD = keyBytes('method');
export const K_BUDGET = keyBytes('budgetMs');
export const K_ATTEMPT = keyBytes('attempt');
export const K_SENT_AT = keyBytes('sentAt');
export const K_HEADERS = keyBytes('headers');
export const K_PAYLOAD = keyBytes('payload');
export const K_ACK = keyBytes('ack');
export const K_CANCELLABLE = keyBytes('cancellable');
export const K_LATE_ACK = keyBytes('lateAck');
export const K_OK = keyBytes('ok');
export const K_RESULT = keyBytes('result');
export const K_ERROR = keyBytes('error');
