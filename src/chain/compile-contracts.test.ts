import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLevityError } from '../protocol/errors.ts';
import { compileContracts } from './compile-contracts.ts';
import type { CompileContractsDeps, Solc } from './compile-contracts.ts';

const contractsDir = path.join(import.meta.dirname, '../../contracts');

const tiny = (name: string) => `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\ncontract ${name} { uint256 public x; }\n`;

/** Loads the real solc and counts how often that happens. */
function countingDeps(): CompileContractsDeps & { loads: number } {
  const deps = {
    loads: 0,
    loadSolc: async () => {
      deps.loads++;
      return (await import('solc')).default as Solc;
    },
  };
  return deps;
}

describe('compileContracts', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'levity-compile-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('compiles contracts/, then serves the same result from the cache without loading solc', async () => {
    const cacheDir = path.join(tmp, 'cache');
    const deps = countingDeps();
    const first = await compileContracts({ sourcesDir: contractsDir, cacheDir }, deps);
    assert.equal(deps.loads, 1);
    assert.match(first.sourcesHash, /^[0-9a-f]{64}$/);
    assert.match(first.solcVersion, /^0\.8\.\d+/);

    const registry = first.contracts.NodeRegistry;
    assert.ok(registry, 'NodeRegistry artifact');
    assert.equal(registry.name, 'NodeRegistry');
    assert.equal(registry.sourceName, 'NodeRegistry.sol');
    assert.match(registry.bytecode, /^0x[0-9a-f]+$/);
    assert.match(registry.deployedBytecode, /^0x[0-9a-f]+$/);
    const functions = registry.abi.flatMap((item) => (item.type === 'function' ? [item.name] : [])).sort();
    assert.deepEqual(functions, [
      'deregister',
      'getNode',
      'nodeCount',
      'nodesByRole',
      'nodesOf',
      'register',
      'transferOperator',
      'updateUrl',
    ]);

    const cacheFile = path.join(cacheDir, `solc-${first.sourcesHash}.json`);
    assert.deepEqual(await readdir(cacheDir), [path.basename(cacheFile)], 'no temp files left behind');
    const mtime = (await stat(cacheFile)).mtimeMs;

    const second = await compileContracts({ sourcesDir: contractsDir, cacheDir }, deps);
    assert.equal(deps.loads, 1, 'a cache hit must not load solc');
    assert.deepEqual(second, first);
    assert.equal((await stat(cacheFile)).mtimeMs, mtime);
  });

  it('rebuilds a corrupt cache file', async () => {
    const sourcesDir = path.join(tmp, 'corrupt-src');
    await mkdir(sourcesDir);
    await writeFile(path.join(sourcesDir, 'Tiny.sol'), tiny('Tiny'));
    const cacheDir = path.join(tmp, 'corrupt-cache');
    const deps = countingDeps();
    const first = await compileContracts({ sourcesDir, cacheDir }, deps);
    const cacheFile = path.join(cacheDir, `solc-${first.sourcesHash}.json`);
    await writeFile(cacheFile, '{"sourcesHash": "trunc');

    const logs: string[] = [];
    const rebuilt = await compileContracts({ sourcesDir, cacheDir, log: (m) => logs.push(m) }, deps);
    assert.equal(deps.loads, 2);
    assert.deepEqual(rebuilt, first);
    assert.ok(logs.some((m) => m.includes('ignoring')));
    assert.deepEqual(JSON.parse(await readFile(cacheFile, 'utf8')), first);
  });

  it('changes the hash when a source changes, and reports warnings to log', async () => {
    const sourcesDir = path.join(tmp, 'warn-src');
    await mkdir(path.join(sourcesDir, 'nested'), { recursive: true });
    const source = (body: string) =>
      `// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\ncontract Warn { function f(uint256 unused) external pure returns (uint256) { ${body} } }\n`;
    await writeFile(path.join(sourcesDir, 'nested', 'Warn.sol'), source('return 1;'));
    const logs: string[] = [];
    const cacheDir = path.join(tmp, 'warn-cache');
    const a = await compileContracts({ sourcesDir, cacheDir, log: (m) => logs.push(m) });
    assert.equal(a.contracts.Warn?.sourceName, 'nested/Warn.sol');
    assert.ok(logs.some((m) => m.includes('Unused function parameter')), logs.join('\n'));

    await writeFile(path.join(sourcesDir, 'nested', 'Warn.sol'), source('return 2;'));
    const b = await compileContracts({ sourcesDir, cacheDir });
    assert.notEqual(b.sourcesHash, a.sourcesHash);
  });

  it('throws CHAIN_COMPILE_FAILED with solc messages for a broken source', async () => {
    const sourcesDir = path.join(tmp, 'broken');
    await mkdir(sourcesDir);
    await writeFile(path.join(sourcesDir, 'Broken.sol'), 'pragma solidity ^0.8.28;\ncontract Broken { function f( }\n');
    await assert.rejects(
      compileContracts({ sourcesDir, cacheDir: path.join(tmp, 'broken-cache') }),
      (err: unknown) => {
        assert.ok(isLevityError(err));
        assert.equal(err.code, 'CHAIN_COMPILE_FAILED');
        assert.match(err.details ?? '', /Broken\.sol/);
        assert.match(err.details ?? '', /ParserError/);
        return true;
      },
    );
  });

  it('rejects two deployable contracts with the same name', async () => {
    const sourcesDir = path.join(tmp, 'dupes');
    await mkdir(sourcesDir);
    await writeFile(path.join(sourcesDir, 'A.sol'), tiny('Twin'));
    await writeFile(path.join(sourcesDir, 'B.sol'), tiny('Twin'));
    await assert.rejects(compileContracts({ sourcesDir, cacheDir: path.join(tmp, 'dupes-cache') }), {
      code: 'CHAIN_COMPILE_FAILED',
      shortMessage: 'Two contracts are named Twin',
    });
  });
});
