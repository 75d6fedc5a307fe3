/** Maps the SU's records onto the message and env a process module receives (spec ao.md §4.4). */
import { UpstreamError } from '../../protocol/errors.ts';
import { tagValue } from '../../protocol/ao/index.ts';
import type { AoEnv, AoMessage, SuMessage, SuProcess, Tag } from '../../protocol/ao/types.ts';
import type { LoadedModule } from './module-loader.ts';

/** Where a slot sits: its nonce, timestamp and height, read from the assignment's tags. */
export type SlotPosition = { nonce: number; timestamp: number; blockHeight: number; hashChain: string; epoch: number };

export function slotPosition(entry: SuMessage): SlotPosition {
  if (!entry?.assignment || !Array.isArray(entry.assignment.tags)) {
    throw new UpstreamError('CU_BAD_ASSIGNMENT', 'the SU answered a slot without an assignment');
  }
  const tags = entry.assignment.tags;
  const number = (name: string) => {
    const value = Number(tagValue(tags, name));
    if (!Number.isSafeInteger(value)) {
      throw new UpstreamError('CU_BAD_ASSIGNMENT', `assignment ${entry.assignment.id} has no valid ${name} tag`, {
        meta: { assignment: entry.assignment.id },
      });
    }
    return value;
  };
  return {
    nonce: number('Nonce'),
    timestamp: number('Timestamp'),
    blockHeight: number('Block-Height'),
    epoch: Number(tagValue(tags, 'Epoch') ?? 0),
    hashChain: tagValue(tags, 'Hash-Chain') ?? '',
  };
}

/** The module's view of a scheduled message; `From` is the pushing process when there is one. */
export function scheduledMessage(processId: string, entry: SuMessage): AoMessage {
  const message = entry.message;
  if (!message) {
    throw new UpstreamError('CU_UNHYDRATED_ASSIGNMENT', `assignment ${entry.assignment.id} carries no message`, {
      meta: { assignment: entry.assignment.id },
    });
  }
  const position = slotPosition(entry);
  const fromProcess = tagValue(message.tags, 'From-Process');
  const result: AoMessage = {
    Id: message.id,
    Signature: message.signature,
    Owner: message.owner.address,
    From: fromProcess ?? message.owner.address,
    Target: message.target ?? processId,
    Anchor: message.anchor ?? undefined,
    Data: message.data ?? '',
    Tags: message.tags,
    Epoch: position.epoch,
    Nonce: position.nonce,
    Timestamp: position.timestamp,
    'Block-Height': position.blockHeight,
    'Hash-Chain': position.hashChain,
    Cron: false,
  };
  if (fromProcess) result['Forwarded-By'] = message.owner.address;
  return result;
}

/** A cron tick: no id, from the process owner, tagged with the process's Cron-Tag-* tags. */
export function cronMessage(process: SuProcess, tags: Tag[], timestamp: number, blockHeight: number): AoMessage {
  return {
    Owner: process.owner.address,
    From: process.owner.address,
    Target: process.process_id,
    Data: '',
    Tags: tags,
    Timestamp: timestamp,
    'Block-Height': blockHeight,
    Cron: true,
  };
}

export function processEnv(process: SuProcess, module: LoadedModule): AoEnv {
  return {
    Process: { Id: process.process_id, Owner: process.owner.address, Tags: process.tags },
    Module: { Id: module.id, Owner: module.owner, Tags: module.tags },
  };
}
