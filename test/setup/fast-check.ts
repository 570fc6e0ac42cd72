import fc from 'fast-check';

/**
 * Property tests run from a fixed seed, so `npm test` (and CI) gives the same answer on every run. A random seed
 * explores further: `FC_SEED=random npx vitest run test/unit` (a failure prints its seed and path; rerun it with
 * `FC_SEED=<seed>`).
 */
const seed = process.env.FC_SEED;
if (seed !== 'random') fc.configureGlobal({ seed: seed === undefined ? 20261207 : Number(seed) });
