/**
 * The port between the provider's HTTP layer and whatever produces text: a local model (llama-backend.ts) or an
 * OpenAI-compatible upstream (proxy-backend.ts). Token counts are billing facts, so every implementation reports real
 * counts: `countPromptTokens` lets the provider price a request before any work is done, and must agree with the
 * `promptTokens` that `generate` later reports for the same request.
 */

import { InvalidInputError, LevityError } from '../../protocol/errors.ts';

export type ChatRole = 'system' | 'user' | 'assistant';

export type ChatMessage = { role: ChatRole; content: string };

/** Exactly one of `messages` (chat) and `prompt` (plain completion). */
export type GenerateRequest = {
  model: string;
  messages?: ChatMessage[];
  prompt?: string;
  /** The most tokens to generate (≥ 1); generation also stops where the context ends. */
  maxTokens: number;
  /** OpenAI semantics: 0 is greedy; absent means 1. */
  temperature?: number;
  seed?: number;
  /** Text that ends generation; it is not part of the returned text. */
  stop?: string[];
};

export type FinishReason = 'stop' | 'length';

export type GenerateResult = {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
};

export type GenerateOptions = {
  signal?: AbortSignal;
  /** Called with each new piece of text; the pieces concatenate to `GenerateResult.text`. */
  onText?(delta: string): void;
};

export type ChatBackend = {
  readonly models: string[];
  countPromptTokens(request: GenerateRequest): Promise<number>;
  /** The model's context window in tokens (prompt + completion). */
  contextSize(model: string): number;
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult>;
  close(): Promise<void>;
};

/**
 * Thrown when a generation is aborted through its signal. The work already done is in `meta` (promptTokens,
 * completionTokens, text) so a provider can still bill what it computed.
 */
export function generationAbortedError(usage: { promptTokens: number; completionTokens: number; text: string }): LevityError {
  return new LevityError('SERVING_ABORTED', 'generation aborted', { meta: usage });
}

export function isGenerationAborted(error: unknown): error is LevityError {
  return error instanceof LevityError && error.code === 'SERVING_ABORTED';
}

/** Checks the shape every backend relies on; the provider validates the HTTP body before this. */
export function validateGenerateRequest(request: GenerateRequest): void {
  const bad = (details: string, meta: Record<string, unknown> = {}): never => {
    throw new InvalidInputError('SERVING_BAD_REQUEST', 'invalid generation request', { details, meta });
  };
  const hasMessages = request.messages !== undefined;
  const hasPrompt = request.prompt !== undefined;
  if (hasMessages === hasPrompt) bad('give exactly one of messages and prompt');
  if (hasMessages) {
    if (!Array.isArray(request.messages) || request.messages.length === 0) bad('messages must be a non-empty array');
    for (const message of request.messages ?? []) {
      if (!['system', 'user', 'assistant'].includes(message.role) || typeof message.content !== 'string') {
        bad('each message needs a role (system, user, assistant) and string content', { role: message.role });
      }
    }
  }
  if (hasPrompt && typeof request.prompt !== 'string') bad('prompt must be a string');
  if (!Number.isSafeInteger(request.maxTokens) || request.maxTokens < 1) {
    bad('maxTokens must be a positive integer', { maxTokens: request.maxTokens });
  }
  if (request.temperature !== undefined && !(Number.isFinite(request.temperature) && request.temperature >= 0)) {
    bad('temperature must be a non-negative number', { temperature: request.temperature });
  }
  if (request.seed !== undefined && !Number.isSafeInteger(request.seed)) bad('seed must be an integer', { seed: request.seed });
  if (request.stop !== undefined) {
    if (!Array.isArray(request.stop) || request.stop.some((s) => typeof s !== 'string' || s === '')) {
      bad('stop must be a list of non-empty strings');
    }
  }
}
