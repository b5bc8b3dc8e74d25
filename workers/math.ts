import { defineWorker, RpcError } from '../src/index.js';

export interface Operands {
  a: number;
  b: number;
}

function operands(p: unknown): Operands {
  const { a, b } = (p ?? {}) as Partial<Operands>;
  if (typeof a !== 'number' || typeof b !== 'number') {
    throw new RpcError('BAD_REQUEST', 'payload must be { a: number, b: number }');
  }
  return { a, b };
}

/** Arithmetic; `div` rejects division by zero with the business code DIVIDE_BY_ZERO. */
export default defineWorker({
  service: 'math',
  version: '1.0.0',
  methods: {
    add: (p: Operands): number => {
      const { a, b } = operands(p);
      return a + b;
    },
    div: (p: Operands): number => {
      const { a, b } = operands(p);
      if (b === 0) throw new RpcError('DIVIDE_BY_ZERO', `cannot divide ${a} by zero`);
      return a / b;
    },
  },
});
