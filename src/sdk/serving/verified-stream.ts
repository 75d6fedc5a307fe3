/**
 * Passes a provider's SSE stream through event by event while it adds up the generated text, and
 * checks the provider's final `levity` chunk against it before letting that chunk (and `[DONE]`)
 * through. A stream whose signature does not hold, or that ends unsigned, ends in an error: the
 * reader has seen the text, but never a clean end for a response nobody vouches for.
 */
import { checkFacts, ServingClientErrorCode } from './response-check.ts';
import type { BilledResponse, Expected } from './response-check.ts';
import { UpstreamError } from '../../protocol/errors.ts';

export type VerifiedStreamHooks = {
  onVerified(facts: BilledResponse): void;
  /** Called once when the stream ends, fails or is cancelled (the per-provider lock is let go here). */
  onDone(): void;
};

const EVENT_END = /\r?\n\r?\n/;

export function verifiedStream(response: Response, expected: Expected, hooks: VerifiedStreamHooks): Response {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  let content = '';
  let verified = false;
  let sawError = false;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    hooks.onDone();
  };

  /** Checks one event; returns the bytes to pass on. Throws when the stream must fail. */
  async function handle(event: string): Promise<Uint8Array> {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data === '[DONE]') {
      if (!verified && !sawError) throw unsigned();
    } else if (data !== '') {
      let chunk: Record<string, unknown> | undefined;
      try {
        chunk = JSON.parse(data) as Record<string, unknown>;
      } catch {
        chunk = undefined;
      }
      if (chunk?.error !== undefined) sawError = true;
      else if (chunk?.levity !== undefined) {
        const facts = await checkFacts({ id: chunk.id, model: chunk.model, usage: chunk.usage, content, levity: chunk.levity, stream: true }, expected);
        verified = true;
        hooks.onVerified(facts);
      } else if (chunk && Array.isArray(chunk.choices)) {
        for (const choice of chunk.choices as Array<Record<string, unknown>>) {
          if ((choice.index ?? 0) !== 0) continue;
          const delta = choice.delta as { content?: unknown } | undefined;
          if (typeof delta?.content === 'string') content += delta.content;
          else if (typeof choice.text === 'string') content += choice.text;
        }
      }
    }
    return encoder.encode(`${event}\n\n`);
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let match = EVENT_END.exec(buffer);
          let emitted = false;
          while (match) {
            const event = buffer.slice(0, match.index);
            buffer = buffer.slice(match.index + match[0].length);
            controller.enqueue(await handle(event));
            emitted = true;
            match = EVENT_END.exec(buffer);
          }
          if (emitted) return;
          const { done, value } = await reader.read();
          if (done) {
            buffer += decoder.decode();
            if (buffer.trim() !== '') controller.enqueue(await handle(buffer.replace(/\s+$/, '')));
            buffer = '';
            if (!verified && !sawError) throw unsigned();
            controller.close();
            finish();
            return;
          }
          buffer += decoder.decode(value, { stream: true });
        }
      } catch (error) {
        finish();
        reader.cancel(error).catch(() => undefined);
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  const headers = new Headers(response.headers);
  headers.delete('content-encoding');
  headers.delete('content-length');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

function unsigned(): UpstreamError {
  return new UpstreamError(ServingClientErrorCode.badSignature, 'the stream ended without the provider signature (no levity chunk)');
}
