import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTHORITY,
  MODULE_ID,
  OTHER_PROCESS,
  OWNER,
  PROCESS_ID,
  SECOND_AUTHORITY,
  STRANGER,
  bootProcess,
  outputData,
  plain,
  tagNames,
  tagsOf,
} from './lua-test-kit.ts';

describe('Send and ao.send', () => {
  it('lays out tags: ao tags, then extra keys, then Tags; table Data becomes JSON', async () => {
    const p = await bootProcess();
    const result = p.eval(`
      Send({ Target = '${OTHER_PROCESS}', Action = 'Hello', Quantity = 5, Flag = true, Tags = { { name = 'Extra', value = 'e' } } })
      Send({ Target = '${OTHER_PROCESS}', Data = { a = 1, list = { 1, 2 } }, Tags = { Kind = 'map' } })
      Send({ Target = '${OTHER_PROCESS}', Data = 'plain' })`);
    assert.equal(result.Error, undefined);
    const [first, second, third] = result.Messages;
    assert.ok(first && second && third);
    assert.equal(first.Target, OTHER_PROCESS);
    assert.equal(first.Anchor, '00000000000000000000000000000001');
    assert.deepEqual(tagNames(first), ['Data-Protocol', 'Variant', 'Type', 'Reference', 'Action', 'Flag', 'Quantity', 'Extra']);
    assert.deepEqual(tagsOf(first), { 'Data-Protocol': 'ao', Variant: 'ao.TN.1', Type: 'Message', Reference: '1', Action: 'Hello', Flag: 'true', Quantity: '5', Extra: 'e' });
    assert.equal(first.Data, undefined);
    assert.equal(second.Anchor, '00000000000000000000000000000002');
    assert.deepEqual(JSON.parse(second.Data ?? ''), { a: 1, list: [1, 2] });
    assert.equal(tagsOf(second)['Content-Type'], 'application/json');
    assert.equal(tagsOf(second).Kind, 'map');
    assert.equal(third.Data, 'plain');
    assert.equal(tagsOf(third).Reference, '3');
    assert.match(plain(p.value("Send({ Target = 'x' }).output")), /Message added to outbox/);
  });

  it('msg.forward sends a clean copy with Reply-To, X-Reference and X-Origin', async () => {
    const p = await bootProcess({ bootData: `Handlers.add('fwd', 'Fwd', function(msg) msg.forward('${OTHER_PROCESS}', { Note = 'n' }) end)` });
    const result = p.send({ from: STRANGER, tags: { Action: 'Fwd', Reference: '9', Custom: 'c' }, data: 'payload' });
    const [forwarded] = result.Messages;
    assert.ok(forwarded);
    assert.equal(forwarded.Target, OTHER_PROCESS);
    assert.equal(forwarded.Data, 'payload');
    const tags = tagsOf(forwarded);
    assert.equal(tags['Reply-To'], STRANGER);
    assert.equal(tags['X-Reference'], '9');
    assert.equal(tags['X-Origin'], STRANGER);
    assert.equal(tags.Custom, 'c');
    assert.equal(tags.Note, 'n');
    assert.equal(tags.Reference, '1', 'the original Reference is not carried over');
    assert.equal(tags.Owner, undefined);
  });

  it('Assign puts an assignment in the outbox', async () => {
    const p = await bootProcess();
    const result = p.eval(`Assign({ Processes = { '${OTHER_PROCESS}' }, Message = '${STRANGER}' })`);
    assert.deepEqual(result.Assignments, [{ Processes: [OTHER_PROCESS], Message: STRANGER }]);
  });
});

describe('Spawn and ao.spawn', () => {
  it('tags the process with From-Process, From-Module, Module and a Reference', async () => {
    const p = await bootProcess();
    const result = p.eval("Spawn({ Name = 'child', Tags = { { name = 'Extra', value = 'x' } } }); Spawn('OTHER-MODULE', { Data = 'code' })");
    const [own, other] = result.Spawns;
    assert.ok(own && other);
    assert.equal(own.Data, 'NODATA');
    assert.equal(own.Anchor, '00000000000000000000000000000001');
    assert.deepEqual(tagNames(own).slice(0, 7), ['Data-Protocol', 'Variant', 'Type', 'From-Process', 'From-Module', 'Module', 'Reference']);
    assert.deepEqual(tagsOf(own), {
      'Data-Protocol': 'ao',
      Variant: 'ao.TN.1',
      Type: 'Process',
      'From-Process': PROCESS_ID,
      'From-Module': MODULE_ID,
      Module: MODULE_ID,
      Reference: '1',
      Name: 'child',
      Extra: 'x',
    });
    assert.equal(other.Data, 'code');
    assert.equal(tagsOf(other).Module, 'OTHER-MODULE');
    assert.equal(tagsOf(other).Reference, '2');
  });

  it('receive() resumes when the Spawned notice arrives', async () => {
    const p = await bootProcess({
      processTags: [{ name: 'Authority', value: AUTHORITY }],
      bootData: "Handlers.add('make', 'Make', function() local child = Spawn({}).receive(); Child = child.Process; print('child ' .. Child) end)",
    });
    assert.equal(p.send({ tags: { Action: 'Make' } }).Spawns.length, 1);
    assert.equal(p.value('tostring(Child)'), 'nil');
    const notice = p.send({ from: PROCESS_ID, owner: AUTHORITY, tags: { 'From-Process': PROCESS_ID, Action: 'Spawned', Reference: '1', Process: OTHER_PROCESS } });
    assert.equal(notice.Error, undefined);
    assert.match(outputData(notice), new RegExp(`child ${OTHER_PROCESS}`));
    assert.equal(p.value('Child'), OTHER_PROCESS);
  });
});

describe('replies across messages', () => {
  const ASK = `
    Handlers.add('ask', 'Ask', function(msg)
      local answer = Send({ Target = '${OTHER_PROCESS}', Action = 'Question' }).receive()
      Answer = answer.Data
      msg.reply({ Data = 'got ' .. answer.Data })
    end)
    Handlers.add('ask-cb', 'AskCb', function()
      Send({ Target = '${OTHER_PROCESS}', Action = 'Question' }).onReply(function(reply) Callback = reply.Data end)
    end)`;

  it('a handler suspended by receive() resumes on the matching reply', async () => {
    const p = await bootProcess({ bootData: ASK });
    const asked = p.send({ from: STRANGER, tags: { Action: 'Ask' } });
    assert.equal(asked.Error, undefined);
    assert.equal(asked.Messages.length, 1);
    assert.equal(p.value('#Handlers.coroutines'), '1');
    const unrelated = p.send({ from: OTHER_PROCESS, tags: { Action: 'Answer', 'X-Reference': '99' }, data: 'wrong' });
    assert.equal(unrelated.Messages.length, 0);
    assert.equal(p.value('tostring(Answer)'), 'nil');
    const answered = p.send({ from: OTHER_PROCESS, tags: { Action: 'Answer', 'X-Reference': '1' }, data: '42' });
    assert.equal(answered.Error, undefined);
    assert.equal(p.value('Answer'), '42');
    assert.equal(answered.Messages[0]?.Target, STRANGER);
    assert.equal(answered.Messages[0]?.Data, 'got 42');
    assert.equal(p.value('#Handlers.coroutines'), '0');
  });

  it('onReply registers a one-time handler for the reply', async () => {
    const p = await bootProcess({ bootData: ASK });
    p.send({ tags: { Action: 'AskCb' } });
    p.send({ from: OTHER_PROCESS, tags: { 'X-Reference': '1' }, data: 'called back' });
    assert.equal(p.value('Callback'), 'called back');
  });
});

describe('trust', () => {
  const ECHO = "Handlers.add('echo', 'Echo', function(msg) msg.reply({ Data = 'echo' }) end)";

  it('a forwarded message is untrusted unless its signer or sender is an authority', async () => {
    const p = await bootProcess({ bootData: ECHO });
    assert.equal(p.send({ from: STRANGER, tags: { Action: 'Echo' } }).Messages.length, 1, 'signed by its sender: trusted');
    const forged = p.send({ from: OTHER_PROCESS, owner: STRANGER, tags: { Action: 'Echo', 'From-Process': OTHER_PROCESS } });
    assert.equal(forged.Messages.length, 0);
    assert.match(plain(outputData(forged)), /Message is not trusted/);
    const pushed = p.send({ from: OTHER_PROCESS, owner: AUTHORITY, tags: { Action: 'Echo', 'From-Process': OTHER_PROCESS } });
    assert.equal(pushed.Messages[0]?.Target, OTHER_PROCESS);
  });

  it('Authority tags are comma-separated and may repeat; with none, nothing forwarded is trusted', async () => {
    const p = await bootProcess({ bootData: ECHO, processTags: [{ name: 'Authority', value: ` ${STRANGER} , ${SECOND_AUTHORITY}` }] });
    assert.equal(p.value("table.concat(ao.authorities, ',')"), [AUTHORITY, STRANGER, SECOND_AUTHORITY].join(','));
    const viaSecond = p.send({ from: OTHER_PROCESS, owner: SECOND_AUTHORITY, tags: { Action: 'Echo' } });
    assert.equal(viaSecond.Messages.length, 1);
    assert.equal(p.value("tostring(ao.isTrusted({ From = 'a', Owner = 'b' }))"), 'false');
  });

  it('an assignment is processed only when it matches an assignable', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('seen', 'Seen', function() Seen = (Seen or 0) + 1 end)" });
    p.send({ target: OTHER_PROCESS, tags: { Action: 'Seen' } });
    assert.equal(p.value('tostring(Seen)'), 'nil');
    p.eval("ao.addAssignable('seen', { Action = 'Seen' })");
    p.send({ target: OTHER_PROCESS, tags: { Action: 'Seen' } });
    assert.equal(p.value('Seen'), '1');
    p.eval("ao.removeAssignable('seen')");
    p.send({ target: OTHER_PROCESS, tags: { Action: 'Seen' } });
    assert.equal(p.value('Seen'), '1');
  });
});

describe('message normalisation and globals', () => {
  it('Title-Cases names, hoists tags (except the reserved ones) and maps Tags with TagArray', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('keep', 'Inspect', function(msg) Last = msg end)" });
    p.send({
      tags: [
        { name: 'ACTION', value: 'Inspect' },
        { name: 'content_type', value: 'text/plain' },
        { name: 'x-custom', value: 'first' },
        { name: 'X-Custom', value: 'second' },
        { name: 'Variant', value: 'v' },
        { name: 'Type', value: 'Message' },
        { name: 'Timestamp', value: 'forged' },
      ],
    });
    assert.equal(p.value('Last.Action'), 'Inspect');
    assert.equal(p.value("Last['Content-Type']"), 'text/plain');
    assert.equal(p.value("Last['X-Custom']"), 'first');
    assert.equal(p.value("Last.Tags['X-Custom']"), 'first');
    assert.equal(p.value('tostring(Last.Variant) .. tostring(Last.Type)'), 'nilnil');
    assert.equal(p.value('Last.Tags.Variant'), 'v');
    assert.equal(p.value('math.type(Last.Timestamp)'), 'integer', 'envelope fields are not overwritten by tags');
    assert.equal(p.value('#Last.TagArray .. Last.TagArray[2].name'), '7Content-Type');
    assert.equal(p.value("ao.env.Process.Tags.Module .. ',' .. #ao.env.Process.TagArray"), `${MODULE_ID},4`);
  });

  it('sets Owner, Name and ao.id from the process message', async () => {
    const p = await bootProcess({ processTags: [{ name: 'Name', value: 'my-proc' }] });
    assert.equal(p.value('Owner'), OWNER);
    assert.equal(p.value('Name'), 'my-proc');
    assert.equal(p.value('ao.id'), PROCESS_ID);
    assert.equal(p.value('ao._module'), MODULE_ID);
    const unnamed = await bootProcess();
    assert.equal(unnamed.value('Name'), 'aos');
  });

  it('a spawned child is owned by the process that spawned it', async () => {
    const p = await bootProcess({ processTags: [{ name: 'From-Process', value: OTHER_PROCESS }] });
    const fromParent = p.send({ from: OTHER_PROCESS, owner: AUTHORITY, tags: { Action: 'Eval', 'From-Process': OTHER_PROCESS }, data: 'Owner' });
    assert.equal(plain(outputData(fromParent)), OTHER_PROCESS);
    assert.match(plain(outputData(p.eval('Owner'))), /New Message From/, 'the wallet that signed the spawn is not the owner');
  });

  it('decodes JSON Data when Content-Type is application/json (magic table)', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('json', 'Json', function(msg) Got = msg.Data end)" });
    p.send({ tags: { Action: 'Json', 'Content-Type': 'application/json' }, data: '{"n":3,"list":["a","b"],"nested":{"ok":true}}' });
    assert.equal(p.value("Got.n .. Got.list[2] .. tostring(Got.nested.ok)"), '3btrue');
    p.send({ tags: { Action: 'Json', 'Content-Type': 'application/json' }, data: '' });
    assert.equal(p.value('type(Got)'), 'table');
  });

  it('keeps at most 10000 messages in the Inbox', async () => {
    const p = await bootProcess();
    p.eval("for i = 1, 10005 do table.insert(Inbox, { Id = tostring(i) }) end");
    p.send({ tags: { Action: 'Unhandled' } });
    assert.equal(p.value('#Inbox'), '10000');
    assert.equal(p.value('Inbox[#Inbox].Action'), 'Unhandled');
  });

  it('exposes the aos globals and require-able modules', async () => {
    const p = await bootProcess();
    assert.equal(
      p.value("type(Handlers) .. type(Utils) .. type(Dump) .. type(Colors) .. type(Bell) .. type(Send) .. type(Spawn) .. type(Assign) .. type(Receive) .. type(Tab) .. type(Prompt) .. type(Version) .. type(apm) .. type(Errors)"),
      'tabletablefunctiontablestringfunctionfunctionfunctionfunctionfunctionfunctionfunctiontabletable',
    );
    for (const name of ['json', '.utils', '.handlers', '.handlers-utils', '.process', '.ao', 'ao', '.stringify', '.dump', '.pretty', '.base64', '.chance', '.assignment', '.eval', '.boot', '.default', '.apm']) {
      assert.notEqual(p.value(`type(require('${name}'))`), 'nil', name);
    }
    assert.equal(p.value("tostring(require('.ao') == ao and require('ao') == ao and require('.handlers') == Handlers)"), 'true');
    assert.equal(p.value("require('.base64').decode(require('.base64').encode('hello, world'))"), 'hello, world');
    assert.equal(p.value("require('.base64').encode('ab')"), 'YWI=');
  });
});

describe('json', () => {
  it('encodes empty tables as [], integers as integers, floats with %.14g, skips functions and escapes strings', async () => {
    const p = await bootProcess();
    const encode = (lua: string) => p.value(`require('json').encode(${lua})`);
    assert.equal(encode('{}'), '[]');
    assert.equal(encode('{ 1, 2, 3 }'), '[1,2,3]');
    assert.equal(encode('{ n = 10, f = 0.1 + 0.2 }').length > 0, true);
    assert.deepEqual(JSON.parse(encode('{ n = 10, f = 0.1 + 0.2, g = 2.0, fn = print }')), { n: 10, f: 0.3, g: 2 });
    assert.equal(encode('1e20'), '1e+20');
    assert.equal(encode('"a\\"b\\\\c\\n\\1"'), '"a\\"b\\\\c\\n\\u0001"');
    assert.equal(encode("'é€'"), '"é€"');
    assert.equal(encode('{ { a = {} } }'), '[{"a":[]}]');
  });

  it('decodes escapes, unicode and surrogate pairs, and keeps integers integral', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('dec', 'Dec', function(msg) Decoded = require('json').decode(msg.Data) end)" });
    const data = JSON.stringify({ s: 'a"b\\c/\n\t', u: 'é€😀', n: 12345678901, f: 1.5, neg: -3, b: false, arr: [1, [2, []], {}] }).replace(/}$/, ',"e":1e3}');
    assert.equal(p.send({ tags: { Action: 'Dec' }, data }).Error, undefined);
    assert.equal(p.value('Decoded.s'), 'a"b\\c/\n\t');
    assert.equal(p.value('Decoded.u'), 'é€😀');
    assert.equal(p.value('math.type(Decoded.n) .. Decoded.n'), 'integer12345678901');
    assert.equal(p.value('math.type(Decoded.f) .. math.type(Decoded.e)'), 'floatfloat');
    assert.equal(p.value('Decoded.neg .. tostring(Decoded.b) .. #Decoded.arr .. #Decoded.arr[2]'), '-3false32');
    assert.equal(p.value("require('json').decode(' [ 1 , { \"a\" : \"\\\\u00e9\" } ] ')[2].a"), 'é');
    assert.equal(p.value("require('json').decode('\"\\\\ud83d\\\\ude00\"')"), '😀');
    assert.match(p.eval("require('json').decode('{\"a\":1,}')").Error ?? '', /json/);
    assert.equal(p.value("(function() local t = {} t.self = t return select(2, pcall(require('json').encode, t)) end)()"), 'json: circular reference');
  });
});
