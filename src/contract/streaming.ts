/** Whether a method streams: its handler is an `async function*` (each `yield` is one item). */
export function isStreamingHandler(fn: unknown): boolean {
  return Object.prototype.toString.call(fn) === '[object AsyncGeneratorFunction]';
}
