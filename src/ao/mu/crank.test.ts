import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tag } from '../../protocol/ans104/types.ts';
import { anchorFor, assignmentsTag, dataFor, pushedMessageTags, readOutbox, spawnProcessTags, spawnedNoticeTags } from './crank.ts';

const PARENT = 'P'.repeat(42) + 'A';
const CHILD = 'C'.repeat(42) + 'A';
const TARGET = 'T'.repeat(42) + 'A';
const MODULE = 'M'.repeat(42) + 'A';
const ORIGIN = 'O'.repeat(42) + 'A';
const SU = 'S'.repeat(43);

const t = (name: string, value: string): Tag => ({ name, value });
const names = (tags: readonly Tag[]) => tags.map((tag) => tag.name);
const values = (tags: readonly Tag[], name: string) => tags.filter((tag) => tag.name === name).map((tag) => tag.value);

/** What aos's ao.send puts in the outbox. */
const aosMessageTags = [
  t('Data-Protocol', 'ao'),
  t('Variant', 'ao.TN.1'),
  t('Type', 'Message'),
  t('Reference', '3'),
  t('Action', 'Transfer'),
  t('Quantity', '10'),
];

describe('pushedMessageTags', () => {
  const context = { fromProcess: PARENT, fromModule: MODULE, pushedFor: ORIGIN };

  it('keeps the process tags, then adds the MU-owned ones once', () => {
    const tags = pushedMessageTags(aosMessageTags, context);
    assert.deepEqual(tags, [
      t('Variant', 'ao.TN.1'),
      t('Reference', '3'),
      t('Action', 'Transfer'),
      t('Quantity', '10'),
      t('Data-Protocol', 'ao'),
      t('Type', 'Message'),
      t('From-Process', PARENT),
      t('From-Module', MODULE),
      t('Pushed-For', ORIGIN),
    ]);
  });

  it('drops forged From-Process, From-Module, Pushed-For and Assignments, whatever their case', () => {
    const forged = [
      ...aosMessageTags,
      t('From-Process', TARGET),
      t('from-module', 'evil'),
      t('PUSHED-FOR', 'evil'),
      t('Assignments', JSON.stringify([TARGET])),
      t('type', 'Process'),
    ];
    const tags = pushedMessageTags(forged, context);
    const count = (name: string) => tags.filter((tag) => tag.name.toLowerCase() === name).length;
    assert.deepEqual(values(tags, 'From-Process'), [PARENT]);
    assert.deepEqual(values(tags, 'From-Module'), [MODULE]);
    assert.deepEqual(values(tags, 'Pushed-For'), [ORIGIN]);
    assert.deepEqual(values(tags, 'Type'), ['Message']);
    for (const name of ['from-process', 'from-module', 'pushed-for', 'type']) assert.equal(count(name), 1, name);
    assert.equal(count('assignments'), 0);
  });

  it('adds a Variant when the process gave none, and leaves out what is unknown', () => {
    const tags = pushedMessageTags([t('Action', 'Ping')], { fromProcess: PARENT, fromModule: undefined, pushedFor: undefined });
    assert.deepEqual(names(tags), ['Action', 'Data-Protocol', 'Type', 'Variant', 'From-Process']);
  });
});

describe('spawnProcessTags', () => {
  /** What aos's ao.spawn puts in the outbox. */
  const aosSpawn = [
    t('Data-Protocol', 'ao'),
    t('Variant', 'ao.TN.1'),
    t('Type', 'Process'),
    t('From-Process', PARENT),
    t('From-Module', MODULE),
    t('Module', MODULE),
    t('Reference', '7'),
    t('Name', 'kid'),
    t('Authority', SU),
  ];

  it('makes a Process item the SU accepts: Module and Scheduler present, From-Process the parent', () => {
    const tags = spawnProcessTags(aosSpawn, { fromProcess: PARENT, fromModule: MODULE, pushedFor: ORIGIN, scheduler: SU });
    assert.deepEqual(values(tags, 'Type'), ['Process']);
    assert.deepEqual(values(tags, 'Data-Protocol'), ['ao']);
    assert.deepEqual(values(tags, 'Variant'), ['ao.TN.1']);
    assert.deepEqual(values(tags, 'From-Process'), [PARENT]);
    assert.deepEqual(values(tags, 'From-Module'), [MODULE]);
    assert.deepEqual(values(tags, 'Module'), [MODULE]);
    assert.deepEqual(values(tags, 'Scheduler'), [SU]);
    assert.deepEqual(values(tags, 'Pushed-For'), [ORIGIN]);
    assert.deepEqual(values(tags, 'Reference'), ['7']);
    assert.deepEqual(values(tags, 'Authority'), [SU]);
  });

  it('keeps a spawn’s own Module and Scheduler, and fills them in when missing', () => {
    const other = 'X'.repeat(42) + 'A';
    const own = spawnProcessTags([t('Module', other), t('Scheduler', other)], {
      fromProcess: PARENT,
      fromModule: MODULE,
      pushedFor: undefined,
      scheduler: SU,
    });
    assert.deepEqual(values(own, 'Module'), [other]);
    assert.deepEqual(values(own, 'Scheduler'), [other]);
    const bare = spawnProcessTags([t('Name', 'x'), t('From-Process', TARGET)], {
      fromProcess: PARENT,
      fromModule: MODULE,
      pushedFor: undefined,
      scheduler: SU,
    });
    assert.deepEqual(values(bare, 'Module'), [MODULE]);
    assert.deepEqual(values(bare, 'Scheduler'), [SU]);
    assert.deepEqual(values(bare, 'From-Process'), [PARENT], 'a forged From-Process is replaced');
    assert.equal(values(bare, 'Pushed-For').length, 0);
  });
});

describe('spawnedNoticeTags', () => {
  it('is what aos Spawn().onReply waits for: Action=Spawned, From-Process=parent, the Reference, Process=child', () => {
    const spawn = [
      t('Data-Protocol', 'ao'),
      t('Variant', 'ao.TN.1'),
      t('Type', 'Process'),
      t('From-Process', PARENT),
      t('Module', MODULE),
      t('Reference', '7'),
      t('Action', 'Boot'),
    ];
    const tags = spawnedNoticeTags(spawn, { fromProcess: PARENT, fromModule: MODULE, pushedFor: ORIGIN, childId: CHILD });
    assert.deepEqual(values(tags, 'Action'), ['Spawned']);
    assert.deepEqual(values(tags, 'Type'), ['Message']);
    assert.deepEqual(values(tags, 'From-Process'), [PARENT]);
    assert.deepEqual(values(tags, 'Reference'), ['7']);
    assert.deepEqual(values(tags, 'Process'), [CHILD]);
    assert.deepEqual(values(tags, 'Pushed-For'), [ORIGIN]);
    assert.deepEqual(values(tags, 'Data-Protocol'), ['ao']);
    assert.deepEqual(values(tags, 'Variant'), ['ao.TN.1']);
  });
});

describe('outbox helpers', () => {
  it('reads the Assignments tag of an outbox message, valid ids only', () => {
    assert.deepEqual(assignmentsTag([t('Assignments', JSON.stringify([TARGET, 'short', 3]))]), [TARGET]);
    assert.deepEqual(assignmentsTag([t('Assignments', 'not json')]), []);
    assert.deepEqual(assignmentsTag([]), []);
  });

  it('keeps a 32-byte anchor and derives a stable one otherwise', () => {
    const anchor = '00000000000000000000000000000003';
    assert.equal(anchorFor(anchor, 'seed'), anchor);
    const derived = anchorFor(undefined, 'seed');
    assert.equal(Buffer.byteLength(derived), 32);
    assert.equal(anchorFor('too short', 'seed'), derived, 'derived from the seed alone');
    assert.notEqual(anchorFor(undefined, 'other seed'), derived);
  });

  it('writes data as the process gave it', () => {
    assert.equal(dataFor('hello'), 'hello');
    assert.equal(dataFor(''), '');
    assert.equal(dataFor(undefined), '');
    assert.equal(dataFor({ a: 1 }), '{"a":1}');
    assert.equal(dataFor(5), '5');
  });

  it('keeps pushable outbox entries with their indices and says why others were skipped', () => {
    const { outbox, skipped } = readOutbox({
      Messages: [
        { Target: 'nope', Tags: [] },
        { Target: TARGET, Tags: [t('Action', 'A'), { name: 'N', value: 5 } as unknown as Tag] },
        { Target: TARGET } as never,
      ],
      Spawns: [{ Tags: [t('Name', 'x')] }, null as never],
      Assignments: [{ Processes: [TARGET, 'bad'], Message: ORIGIN }, { Processes: [], Message: ORIGIN }],
    });
    assert.deepEqual(
      outbox.messages.map((entry) => [entry.index, entry.message.Tags]),
      [[1, [t('Action', 'A'), t('N', '5')]]],
    );
    assert.deepEqual(outbox.spawns.map((entry) => entry.index), [0]);
    assert.deepEqual(outbox.assignments, [{ index: 0, assignment: { Processes: [TARGET], Message: ORIGIN } }]);
    assert.equal(skipped.length, 4);
    const empty = readOutbox({ Output: 'x' });
    assert.deepEqual(empty.outbox, { messages: [], spawns: [], assignments: [] });
  });
});
