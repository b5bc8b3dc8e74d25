/**
 * A worker's answers to liveness probes sent to it alone: a census answer (docs/protocol.md,
 * *Census*). Every ack of what the worker holds leaves before the answer, so a prober that still
 * hears nothing of a request it sent before the probe knows the request is not here; the answer
 * also says whether the worker is in its queue group now, taking new requests.
 */
import type { NatsConnection, Subscription } from 'nats';
import { encode } from '../protocol/codec.js';
import { PROTOCOL_VERSION } from '../protocol/envelope.js';

/**
 * Answers the probes on `subject` until unsubscribed. `flushAcks` sends the pending acks (the
 * worker's AckBatch); `inGroup` says whether the worker takes new requests now.
 */
export function answerCensusProbes(nc: NatsConnection, subject: string, workerId: string, flushAcks: () => void, inGroup: () => boolean): Subscription {
  // Both answers are encoded once: `census`: every ack of what this worker holds precedes this
  // answer; `group`: whether it is in its queue group now.
  const pongs = [false, true].map((group) => encode({ v: PROTOCOL_VERSION, worker: workerId, census: true, group }));
  return nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err === null && msg.reply) {
        // The acks of the requests read before this probe leave first: the prober then knows
        // that whatever it sent before the probe and still hears nothing of is not here.
        flushAcks();
        nc.publish(msg.reply, pongs[inGroup() ? 1 : 0]!);
      }
    },
  });
}
