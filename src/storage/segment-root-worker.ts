/**
 * Entry of a storage node's hashing threads (the work is in segment-root-jobs.ts), with Node's
 * compile cache on: stripping types from the thread's modules would cost ~70 ms at every start.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./segment-root-jobs.ts');
