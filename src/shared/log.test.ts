import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './log.ts';

/** A destination that keeps what was written. */
function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes JSON lines carrying child bindings', () => {
    const out = capture();
    const log = createLogger({ level: 'info', name: 'levity', destination: out.stream });
    log.child({ role: 'chain' }).info({ block: 7 }, 'mined');
    log.debug('below the level');
    const lines = out.text().trim().split('\n');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0] ?? '');
    assert.equal(entry.role, 'chain');
    assert.equal(entry.name, 'levity');
    assert.equal(entry.block, 7);
    assert.equal(entry.msg, 'mined');
    assert.equal(entry.level, 30);
  });

  it('pretty-prints when asked', async () => {
    const out = capture();
    const log = createLogger({ level: 'info', pretty: true, destination: out.stream });
    log.child({ role: 'cu' }).warn('slow');
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(out.text(), /WARN.*slow/);
    assert.throws(() => JSON.parse(out.text()));
  });

  it('rejects an unknown level', () => {
    assert.throws(() => createLogger({ level: 'loud' }), { code: 'LOG_INVALID_LEVEL' });
  });
});
