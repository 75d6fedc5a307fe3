import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkImports, formatViolation, importSpecifiers, readSourceFiles } from './boundaries.ts';
import type { Rule } from './boundaries.ts';

/** Violations (as `rule specifier`) for one file importing each of `specifiers`. */
function check(path: string, ...specifiers: string[]): string[] {
  const source = specifiers.map((s, i) => `import x${i} from '${s}';`).join('\n');
  return checkImports([{ path, source }]).map((v) => `${v.rule} ${v.specifier}`);
}

function assertViolation(rule: Rule, path: string, specifier: string): void {
  assert.ok(check(path, specifier).includes(`${rule} ${specifier}`), `${path} → ${specifier} should break ${rule}`);
}

describe('import boundaries', () => {
  it('finds static, re-export, type-only and dynamic specifiers, ignoring comments and strings', () => {
    const source = [
      `// import a from 'commented';`,
      `/* import b from 'block'; */`,
      `import type { T } from './types.ts';`,
      `import c from "double";`,
      `export * from './all.ts';`,
      `export { e } from './e.ts';`,
      `const s = "import z from 'quoted'";`,
      `const m = await import('./lazy.ts');`,
    ].join('\n');
    assert.deepEqual(importSpecifiers(source), ['./types.ts', 'double', './all.ts', './e.ts', './lazy.ts']);
  });

  it('keeps protocol/ pure', () => {
    const pure = ['./segments.ts', 'viem', 'viem/accounts', '@noble/hashes/sha3', 'node:crypto', 'zod'];
    assert.deepEqual(check('src/protocol/merkle.ts', ...pure), []);
    assertViolation('protocol', 'src/protocol/merkle.ts', '../shared/log.ts');
    assertViolation('protocol', 'src/protocol/merkle.ts', 'node:fs');
    assertViolation('protocol', 'src/protocol/merkle.ts', 'fs');
    assertViolation('protocol', 'src/protocol/merkle.ts', 'pino');
    // Tests get a runner, but still no I/O or other layers.
    assert.deepEqual(check('src/protocol/merkle.test.ts', 'node:test', 'node:assert/strict', './merkle.ts'), []);
    assert.deepEqual(check('src/protocol/merkle.test-kit.ts', 'node:test', 'node:assert/strict'), [], 'shared test cases too');
    assertViolation('protocol', 'src/protocol/merkle.test-kit.ts', 'node:fs');
    assertViolation('protocol', 'src/protocol/merkle.test.ts', '../chain/index.ts');
    assertViolation('protocol', 'src/protocol/merkle.test.ts', 'node:fs');
  });

  it('lets shared/ import only shared/, protocol/ and packages', () => {
    assert.deepEqual(check('src/shared/http.ts', './log.ts', '../protocol/errors.ts', 'hono', 'node:http'), []);
    assertViolation('shared', 'src/shared/http.ts', '../chain/index.ts');
  });

  it('lets a subsystem reach another only through its public entry', () => {
    const allowed = ['../cu/domain.ts', '../../storage/index.ts', '../../chain/client.ts', '../../shared/log.ts'];
    assert.deepEqual(check('src/ao/su/routes.ts', ...allowed), []);
    assertViolation('subsystem', 'src/ao/su/routes.ts', '../../storage/segment-store.ts');
    assert.deepEqual(check('src/ao/su/routes.test.ts', '../../storage/segment-store.ts'), [], 'tests are exempt');
  });

  it('lets only cli/ and devnet/ import the composition roots', () => {
    assert.deepEqual(check('src/cli/up.ts', '../devnet/index.ts', '../node/index.ts'), []);
    assert.deepEqual(check('src/devnet/index.ts', '../node/index.ts', '../chain/index.ts'), []);
    assertViolation('composition-root', 'src/devnet/index.ts', '../cli/main.ts');
    assertViolation('composition-root', 'src/chain/index.ts', '../node/index.ts');
    assertViolation('composition-root', 'src/node/index.ts', '../devnet/index.ts');
    assertViolation('composition-root', 'src/chain/x.test.ts', '../cli/main.ts');
  });

  it('keeps server code out of sdk/', () => {
    const allowed = ['./client.ts', '../protocol/merkle.ts', '../storage/client.ts', 'viem', 'ws'];
    assert.deepEqual(check('src/sdk/upload.ts', ...allowed), []);
    assertViolation('sdk', 'src/sdk/upload.ts', '../storage/index.ts');
    assertViolation('sdk', 'src/sdk/upload.ts', '../shared/log.ts');
    for (const server of ['hono', '@hono/node-server', 'hardhat', '@nomicfoundation/edr', 'pino']) {
      assertViolation('sdk', 'src/sdk/upload.ts', server);
    }
  });

  it('flags files outside the known layers', () => {
    assert.deepEqual(check('src/utils/x.ts'), ['layout ']);
    assert.deepEqual(check('src/index.ts'), ['layout ']);
  });

  it('holds for the real src/ tree', () => {
    const files = readSourceFiles(join(import.meta.dirname, '..'));
    assert.ok(files.length > 0);
    const violations = checkImports(files);
    assert.deepEqual(violations.map(formatViolation), []);
  });
});
