/**
 * OpenAI request bodies, checked: the subset of /v1/chat/completions and /v1/completions a local
 * model can honour. Unknown fields are ignored (clients send many); a field we know with a wrong
 * type or range is a 400 naming it, never a crash.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../protocol/errors.ts';
import type { ChatMessage, GenerateRequest } from '../backends/backend.ts';

/** No model has a window this large: above it a max_tokens is a mistake, not a wish. */
export const MAX_TOKENS_LIMIT = 1_048_576;

/** What the backends honour; top_p is checked but not passed on (no backend samples by it). */
export type SamplingOptions = Pick<GenerateRequest, 'temperature' | 'stop' | 'seed'>;

type Common = {
  model: string;
  /** As asked (max_tokens or max_completion_tokens); undefined means the provider's default. */
  maxTokens: number | undefined;
  stream: boolean;
  sampling: SamplingOptions;
};

export type ServingRequest = (Common & { kind: 'chat'; messages: ChatMessage[] }) | (Common & { kind: 'completion'; prompt: string });
export type ServingRequestKind = ServingRequest['kind'];

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const content = z.union([z.string(), z.array(textPart).min(1)]);
const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  // An assistant turn that only called tools has no content.
  content: z.union([content, z.null()]).optional(),
});
const maxTokens = z.int().min(1).max(MAX_TOKENS_LIMIT).nullish();
const common = {
  model: z.string().min(1),
  max_tokens: maxTokens,
  max_completion_tokens: maxTokens,
  stream: z.boolean().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish(),
  seed: z.int().nullish(),
  n: z.literal(1).nullish(),
};
const chatSchema = z.looseObject({ ...common, messages: z.array(message).min(1) });
const completionSchema = z.looseObject({ ...common, prompt: z.union([z.string(), z.array(z.string()).length(1)]) });

/** Parses a request body's text. Throws InvalidInputError SERVING_BAD_JSON or SERVING_BAD_REQUEST (meta.issues). */
export function parseServingRequest(kind: ServingRequestKind, text: string): ServingRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('SERVING_BAD_JSON', 'The request body is not valid JSON', { cause });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidInputError('SERVING_BAD_REQUEST', 'The request body must be a JSON object');
  }
  if (kind === 'chat') {
    const parsed = chatSchema.safeParse(body);
    if (!parsed.success) throw badRequest(parsed.error);
    const b = parsed.data;
    return {
      kind,
      ...commonFields(b),
      messages: b.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: messageText(m.content) })),
    };
  }
  const parsed = completionSchema.safeParse(body);
  if (!parsed.success) throw badRequest(parsed.error);
  const b = parsed.data;
  return { kind, ...commonFields(b), prompt: typeof b.prompt === 'string' ? b.prompt : (b.prompt[0] as string) };
}

const commonSchema = z.object(common);
type CommonBody = z.infer<typeof commonSchema>;

function commonFields(b: CommonBody): Common {
  const sampling: SamplingOptions = {};
  if (b.temperature != null) sampling.temperature = b.temperature;
  if (b.stop != null) sampling.stop = typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (b.seed != null) sampling.seed = b.seed;
  return { model: b.model, maxTokens: b.max_completion_tokens ?? b.max_tokens ?? undefined, stream: b.stream === true, sampling };
}

function messageText(value: string | Array<{ text: string }> | null | undefined): string {
  if (value == null) return '';
  return typeof value === 'string' ? value : value.map((part) => part.text).join('');
}

function badRequest(error: z.ZodError): InvalidInputError {
  const issues = error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
  const first = issues[0];
  const param = first?.path ?? '';
  return new InvalidInputError('SERVING_BAD_REQUEST', first ? `Invalid request: ${param || 'body'}: ${first.message}` : 'Invalid request', {
    meta: { param, issues },
  });
}

/** The backend request for a checked body, generating at most `maxTokens`. */
export function generateRequest(request: ServingRequest, maxTokens: number): GenerateRequest {
  const base = { model: request.model, maxTokens, ...request.sampling };
  return request.kind === 'chat' ? { ...base, messages: request.messages } : { ...base, prompt: request.prompt };
}
