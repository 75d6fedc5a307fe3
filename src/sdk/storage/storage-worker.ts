/**
 * Entry of the storage client's hashing threads (the work is in storage-jobs.ts). Stripping
 * types from the thread's modules costs ~70 ms at every start; Node's compile cache keeps the
 * result, so the second process on a machine starts its workers in half the time.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./storage-jobs.ts');
