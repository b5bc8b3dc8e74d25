import { defineWorker } from '../src/index.js';

/** Returns its payload unchanged. */
export default defineWorker({
  service: 'echo',
  version: '1.0.0',
  methods: {
    echo: <T>(payload: T): T => payload,
  },
});
