/**
 * The durability half of a SQLite FULL commit, taken off the event loop. In WAL mode, FULL differs
 * from NORMAL by exactly one step: writers sync the WAL file on every commit under FULL and omit that
 * sync under NORMAL (sqlite.org/wal.html, pragma.html#pragma_synchronous); checkpoints and WAL
 * restarts are synced alike in both. So a store can commit with NORMAL and run that WAL sync itself:
 * on libuv's thread pool, while the event loop does other work (the provider signs the response
 * meanwhile), and wait for it before it reports the commit durable. Power lost before the sync
 * completes loses only commits whose durability nobody has been told of yet, as under FULL.
 *
 * The WAL file is `<database>-wal` (SQLite's fixed name) and lives as long as its connection: it is
 * created by the first transaction and removed only when the last connection closes. A new WAL's
 * directory entry is made durable here too, as SQLite does on its first WAL sync.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { LevityError } from '../../protocol/errors.ts';

export type WalSync = {
  /** Notes a commit made with synchronous NORMAL; it is durable once a later sync() or syncNow() resolves. */
  committed(): void;
  /** Resolves once every commit noted so far is on disk (one fdatasync of the WAL, shared by callers). */
  sync(): Promise<void>;
  /** The same, blocking: for writes whose callers expect them durable on return. */
  syncNow(): void;
  close(): void;
};

const DONE: Promise<void> = Promise.resolve();

export function createWalSync(databasePath: string): WalSync {
  const walPath = `${databasePath}-wal`;
  let fd: number | undefined;
  let commits = 0;
  let synced = 0;
  let running: { upTo: number; done: Promise<void> } | undefined;

  /** The WAL's descriptor, opened again should SQLite ever have replaced the file. */
  const wal = (): number => {
    if (fd !== undefined && fstatSync(fd).nlink > 0) return fd;
    if (fd !== undefined) closeSync(fd);
    fd = openSync(walPath, 'r+');
    syncDirectory(dirname(walPath));
    return fd;
  };

  return {
    committed() {
      commits++;
    },
    sync() {
      const upTo = commits;
      if (synced >= upTo) return DONE;
      if (running && running.upTo >= upTo) return running.done;
      let descriptor: number;
      try {
        descriptor = wal();
      } catch (cause) {
        return Promise.reject(failed(cause));
      }
      const done = new Promise<void>((resolve, reject) => {
        fdatasync(descriptor, (error) => {
          if (error) return reject(failed(error));
          if (upTo > synced) synced = upTo;
          resolve();
        });
      });
      // Callers may drop the promise (a commit nobody waits on): a failure must not become an unhandled rejection.
      done.catch(() => undefined);
      running = { upTo, done };
      return done;
    },
    syncNow() {
      const upTo = commits;
      if (synced >= upTo) return;
      try {
        fdatasyncSync(wal());
      } catch (cause) {
        throw failed(cause);
      }
      if (upTo > synced) synced = upTo;
    },
    close() {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
    },
  };
}

function syncDirectory(path: string): void {
  let dir: number | undefined;
  try {
    dir = openSync(path, 'r');
    fsyncSync(dir);
  } catch {
    // Some platforms (Windows) cannot open or sync a directory; their file sync covers the entry.
  } finally {
    if (dir !== undefined) closeSync(dir);
  }
}

function failed(cause: unknown): LevityError {
  return new LevityError('SERVING_STORE_SYNC_FAILED', 'Could not make the receipts store durable', { cause });
}
