import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../protocol/errors.ts';
import { configEnvNames, configSchema, defaultConfig, loadConfig } from './config.ts';
import type { DeepPartial, LevityConfig } from './config.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh cwd, optionally holding a levity.config.json with `file` as its text. */
function workspace(file?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'levity-config-'));
  dirs.push(dir);
  if (file !== undefined) {
    writeFileSync(join(dir, 'levity.config.json'), typeof file === 'string' ? file : JSON.stringify(file));
  }
  return dir;
}

function configError(fn: () => unknown, includes: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    for (const part of includes) assert.ok(error.message.includes(part), `"${error.message}" lacks "${part}"`);
    return true;
  });
}

const KEY = `0x${'ab'.repeat(32)}`;

describe('loadConfig', () => {
  it('returns the defaults, with dataDir resolved against cwd', () => {
    const cwd = workspace();
    const { config, warnings } = loadConfig({ cwd, env: {} });
    assert.deepEqual(config, { ...defaultConfig, dataDir: join(cwd, '.levity/devnet') });
    assert.deepEqual(warnings, []);
    assert.ok(configSchema.safeParse(defaultConfig).success);
  });

  it('layers defaults < file < env < flags, deep-merging sections', () => {
    const cwd = workspace({ portBase: 9000, host: '0.0.0.0', chain: { chainId: 1337, accounts: 3 } });
    const fileOnly = loadConfig({ cwd, env: {} }).config;
    assert.equal(fileOnly.portBase, 9000);
    assert.equal(fileOnly.chain.chainId, 1337);
    assert.equal(fileOnly.chain.hardfork, 'prague', 'sibling defaults survive a partial section');

    const env = { LEVITY_PORT_BASE: '9100', LEVITY_CHAIN_ACCOUNTS: '5' };
    const withEnv = loadConfig({ cwd, env }).config;
    assert.equal(withEnv.portBase, 9100);
    assert.equal(withEnv.chain.accounts, 5);
    assert.equal(withEnv.chain.chainId, 1337);
    assert.equal(withEnv.host, '0.0.0.0');

    const flags: DeepPartial<LevityConfig> = { portBase: 0, chain: { accounts: undefined, hardfork: 'osaka' } };
    const all = loadConfig({ cwd, env, flags }).config;
    assert.equal(all.portBase, 0);
    assert.equal(all.chain.accounts, 5, 'an undefined flag does not override');
    assert.equal(all.chain.hardfork, 'osaka');
    assert.equal(all.host, '0.0.0.0');
  });

  it('does not mutate the defaults', () => {
    loadConfig({ cwd: workspace(), env: {}, flags: { chain: { accounts: 2 } } });
    assert.equal(defaultConfig.chain.accounts, 10);
  });

  it('coerces env strings to the leaf type', () => {
    const env = {
      LEVITY_PORT_BASE: ' 0 ',
      LEVITY_CHAIN_BALANCE_ETH: '42',
      LEVITY_CHAIN_RPC: 'ws://127.0.0.1:8546',
      LEVITY_CHAIN_KEY: KEY,
      LEVITY_LOG_LEVEL: 'debug',
      LEVITY_HOST: '',
    };
    const { config } = loadConfig({ cwd: workspace(), env });
    assert.equal(config.portBase, 0);
    assert.equal(config.chain.balanceEth, 42);
    assert.equal(config.chain.rpc, 'ws://127.0.0.1:8546');
    assert.equal(config.chain.key, KEY);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.host, '127.0.0.1', 'an empty variable reads as unset');
  });

  it('derives env names from the schema leaves', () => {
    const names = configEnvNames();
    for (const name of [
      'LEVITY_DATA_DIR',
      'LEVITY_PORT_BASE',
      'LEVITY_HOST',
      'LEVITY_LOG_LEVEL',
      'LEVITY_CHAIN_RPC',
      'LEVITY_CHAIN_KEY',
      'LEVITY_CHAIN_CHAIN_ID',
      'LEVITY_CHAIN_HARDFORK',
      'LEVITY_CHAIN_MNEMONIC',
      'LEVITY_CHAIN_ACCOUNTS',
      'LEVITY_CHAIN_BALANCE_ETH',
    ]) {
      assert.ok(names.includes(name), `${name} missing from ${names.join(', ')}`);
    }
    assert.equal(new Set(names).size, names.length);
  });

  it('warns about unknown LEVITY_* variables and ignores other variables', () => {
    const { warnings } = loadConfig({ cwd: workspace(), env: { LEVITY_PORTBASE: '1', HOME: '/x' } });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /LEVITY_PORTBASE/);
  });

  it('names the key and the file for a bad file value', () => {
    const cwd = workspace({ portBase: 70000 });
    configError(() => loadConfig({ cwd, env: {} }), ['config: portBase (from levity.config.json): expected number ≤ 65535']);
  });

  it('names the variable for a bad env value', () => {
    const cwd = workspace();
    configError(() => loadConfig({ cwd, env: { LEVITY_CHAIN_RPC: 'not a url' } }), [
      'config: chain.rpc (from LEVITY_CHAIN_RPC): Invalid URL',
    ]);
    configError(() => loadConfig({ cwd, env: { LEVITY_CHAIN_RPC: 'ftp://host/x' } }), ['chain.rpc', 'LEVITY_CHAIN_RPC']);
    configError(() => loadConfig({ cwd, env: { LEVITY_PORT_BASE: 'eighty' } }), [
      'config: portBase (from LEVITY_PORT_BASE): expected number, received string',
    ]);
  });

  it('names flags for a bad flag value, without echoing a key', () => {
    const cwd = workspace();
    assert.throws(
      () => loadConfig({ cwd, env: {}, flags: { chain: { key: '0x1234' } } }),
      (error: InvalidInputError) => {
        assert.match(error.message, /^config: chain\.key \(from flags\): expected 0x followed by 64 hex digits/);
        assert.doesNotMatch(error.message, /0x1234/);
        return true;
      },
    );
    configError(() => loadConfig({ cwd, env: {}, flags: { log: { level: 'loud' as 'info' } } }), ['log.level (from flags)']);
  });

  it('rejects unknown keys in the file and in flags', () => {
    configError(() => loadConfig({ cwd: workspace({ chain: { rpcUrl: 'http://x' } }), env: {} }), [
      'config: chain.rpcUrl (from levity.config.json): unknown key',
    ]);
    configError(() => loadConfig({ cwd: workspace({ gossip: { peers: 2 } }), env: {} }), [
      'gossip (from levity.config.json): unknown key',
    ]);
    configError(() => loadConfig({ cwd: workspace('{"__proto__": {"portBase": 1}}'), env: {} }), ['__proto__']);
    const flags = { verbose: true } as DeepPartial<LevityConfig>;
    configError(() => loadConfig({ cwd: workspace(), env: {}, flags }), ['config: verbose (from flags): unknown key']);
  });

  it('reports every problem in details, the first in the short message', () => {
    const cwd = workspace({ portBase: -1, chain: { accounts: 0 } });
    assert.throws(
      () => loadConfig({ cwd, env: {} }),
      (error: InvalidInputError) => {
        assert.match(error.shortMessage, /\(and 1 more\)$/);
        assert.match(error.details ?? '', /chain\.accounts \(from levity\.config\.json\): expected number ≥ 1/);
        return true;
      },
    );
  });

  it('rejects malformed JSON naming the file', () => {
    configError(() => loadConfig({ cwd: workspace('{ "portBase": '), env: {} }), ['levity.config.json', 'not valid JSON']);
    configError(() => loadConfig({ cwd: workspace('[1]'), env: {} }), ['levity.config.json']);
  });

  it('reads an explicit config file and errors if it is missing', () => {
    const cwd = workspace();
    writeFileSync(join(cwd, 'other.json'), JSON.stringify({ host: '10.0.0.1', dataDir: 'data' }));
    const { config } = loadConfig({ cwd, env: {}, configFile: 'other.json' });
    assert.equal(config.host, '10.0.0.1');
    assert.equal(config.dataDir, join(cwd, 'data'));
    configError(() => loadConfig({ cwd, env: {}, configFile: 'missing.json' }), ['missing.json', 'not found']);
  });

  it('keeps an absolute dataDir as given', () => {
    const { config } = loadConfig({ cwd: workspace(), env: { LEVITY_DATA_DIR: '/var/levity' } });
    assert.equal(config.dataDir, '/var/levity');
  });
});
