/**
 * Generates a tiny random-weight `llama`-architecture GGUF model, byte-identical for a given seed, so the devnet and the
 * tests can serve a real model through node-llama-cpp without downloading anything. Its output is gibberish; what
 * matters is that it loads, tokenizes with a real SPM tokenizer, and generates deterministically.
 */

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidInputError } from '../../protocol/errors.ts';
import { encodeGguf } from './gguf-writer.ts';
import type { GgufTensor, GgufValue } from './gguf-writer.ts';
import { mulberry32 } from '../../protocol/seeded-random.ts';

export type TinyModelOptions = {
  /** general.name; the backend names a model after its file stem, not this. */
  name?: string;
  seed?: number;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  feedForwardLength?: number;
};

export type GenerateTinyModelOptions = TinyModelOptions & { path: string };

export type TinyModelInfo = {
  path: string;
  bytes: number;
  parameters: number;
  vocabularySize: number;
};

export const defaultTinyModelOptions = {
  name: 'levity-tiny',
  seed: 1,
  contextLength: 512,
  embeddingLength: 64,
  blockCount: 2,
  headCount: 4,
  headCountKv: 2,
  feedForwardLength: 192,
} as const satisfies Required<TinyModelOptions>;

/**
 * The chat template (tokenizer.chat_template). node-llama-cpp's JinjaTemplateChatWrapper renders it; every turn ends
 * with the EOS token, so the end of an assistant turn is an end-of-generation token rather than a text stop trigger.
 */
export const TINY_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

const TokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** Whole words the SPM tokenizer can reach by merging (every prefix of "▁word" is a piece too). */
const WORDS = [
  'the', 'a', 'and', 'of', 'to', 'in', 'is', 'it', 'you', 'that', 'he', 'was', 'for', 'on', 'are', 'as', 'with',
  'they', 'at', 'be', 'this', 'have', 'from', 'or', 'one', 'by', 'not', 'but', 'what', 'all', 'can', 'we', 'hello',
  'world', 'model', 'token', 'levity', 'user', 'assistant', 'system', 'say', 'tiny',
];
/** Pieces inside words, so unlisted words still tokenize in fewer pieces than characters. */
const SUBWORDS = ['th', 'he', 'in', 'er', 'an', 're', 'on', 'at', 'en', 'nd', 'ing', 'ion', 'ed', 'es', 'or', 'st', '<|', '|>'];

type Vocabulary = { tokens: string[]; scores: number[]; types: number[] };

function buildVocabulary(): Vocabulary {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.byte);
  }
  const pieces: string[] = ['▁'];
  for (let c = 0x21; c <= 0x7e; c++) pieces.push(String.fromCharCode(c));
  for (let c = 0x61; c <= 0x7a; c++) pieces.push(`▁${String.fromCharCode(c)}`);
  for (const word of WORDS) {
    const spaced = `▁${word}`;
    for (let end = 2; end <= spaced.length; end++) pieces.push(spaced.slice(0, end));
  }
  pieces.push(...SUBWORDS);
  const seen = new Set(tokens);
  for (const piece of pieces) {
    if (seen.has(piece)) continue;
    seen.add(piece);
    tokens.push(piece);
    types.push(TokenType.normal);
  }
  // SPM merges the adjacent pair whose merged piece scores highest; longer pieces score higher so whole words win.
  const scores = tokens.map((token, id) =>
    types[id] === TokenType.normal ? [...token].length - id / 10_000 : 0,
  );
  return { tokens, scores, types };
}

function resolve(options: TinyModelOptions): Required<TinyModelOptions> {
  const o = { ...defaultTinyModelOptions, ...stripUndefined(options) };
  const positive = ['contextLength', 'embeddingLength', 'blockCount', 'headCount', 'headCountKv', 'feedForwardLength'] as const;
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) {
      throw new InvalidInputError('SERVING_BAD_MODEL_OPTIONS', `${key} must be a positive integer`, { meta: { [key]: o[key] } });
    }
  }
  if (o.embeddingLength % o.headCount !== 0 || o.headCount % o.headCountKv !== 0 || (o.embeddingLength / o.headCount) % 2 !== 0) {
    throw new InvalidInputError('SERVING_BAD_MODEL_OPTIONS', 'heads must divide the embedding into even-sized heads, and kv heads the heads', {
      meta: { embeddingLength: o.embeddingLength, headCount: o.headCount, headCountKv: o.headCountKv },
    });
  }
  if (!Number.isInteger(o.seed)) {
    throw new InvalidInputError('SERVING_BAD_MODEL_OPTIONS', 'seed must be an integer', { meta: { seed: o.seed } });
  }
  return o;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The GGUF bytes of the tiny model: pure, so the same options always give the same bytes. */
export function tinyModelGguf(options: TinyModelOptions = {}): { bytes: Uint8Array; parameters: number; vocabularySize: number } {
  const o = resolve(options);
  const vocab = buildVocabulary();
  const nVocab = vocab.tokens.length;
  const nEmbd = o.embeddingLength;
  const headDim = nEmbd / o.headCount;
  const nEmbdKv = headDim * o.headCountKv;
  const random = mulberry32(o.seed);

  // Uniform noise with the given standard deviation; the tensor order fixes the draw order, hence the bytes.
  const noise = (length: number, std: number): Float32Array => {
    const data = new Float32Array(length);
    const half = std * Math.sqrt(3);
    for (let i = 0; i < length; i++) data[i] = (random() * 2 - 1) * half;
    return data;
  };
  const ones = (length: number): Float32Array => new Float32Array(length).fill(1);
  const matrix = (name: string, cols: number, rows: number, std: number): GgufTensor => ({
    name,
    dims: [cols, rows],
    data: noise(cols * rows, std),
  });

  const tensors: GgufTensor[] = [matrix('token_embd.weight', nEmbd, nVocab, 1)];
  for (let b = 0; b < o.blockCount; b++) {
    const p = `blk.${b}`;
    const std = 1 / Math.sqrt(nEmbd);
    tensors.push(
      { name: `${p}.attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      matrix(`${p}.attn_q.weight`, nEmbd, nEmbd, std),
      matrix(`${p}.attn_k.weight`, nEmbd, nEmbdKv, std),
      matrix(`${p}.attn_v.weight`, nEmbd, nEmbdKv, std),
      matrix(`${p}.attn_output.weight`, nEmbd, nEmbd, std),
      { name: `${p}.ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      matrix(`${p}.ffn_gate.weight`, nEmbd, o.feedForwardLength, std),
      matrix(`${p}.ffn_up.weight`, nEmbd, o.feedForwardLength, std),
      matrix(`${p}.ffn_down.weight`, o.feedForwardLength, nEmbd, 1 / Math.sqrt(o.feedForwardLength)),
    );
  }
  tensors.push({ name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) });
  const output = matrix('output.weight', nEmbd, nVocab, 0.4);
  // Damp the rows of byte and control tokens (EOS included) so the gibberish is mostly words and rarely ends early:
  // tests and demos want full-length, readable output.
  for (let id = 0; id < nVocab; id++) {
    if (vocab.types[id] === TokenType.normal) continue;
    for (let i = 0; i < nEmbd; i++) output.data[id * nEmbd + i] = (output.data[id * nEmbd + i] as number) * 0.05;
  }
  tensors.push(output);

  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: o.name }],
    ['general.file_type', { type: 'u32', value: 0 }], // all F32
    ['llama.context_length', { type: 'u32', value: o.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: nEmbd }],
    ['llama.block_count', { type: 'u32', value: o.blockCount }],
    ['llama.feed_forward_length', { type: 'u32', value: o.feedForwardLength }],
    ['llama.attention.head_count', { type: 'u32', value: o.headCount }],
    ['llama.attention.head_count_kv', { type: 'u32', value: o.headCountKv }],
    ['llama.rope.dimension_count', { type: 'u32', value: headDim }],
    ['llama.rope.freq_base', { type: 'f32', value: 10000 }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.vocab_size', { type: 'u32', value: nVocab }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', values: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', values: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: TINY_CHAT_TEMPLATE }],
  ];

  const parameters = tensors.reduce((sum, t) => sum + t.data.length, 0);
  return { bytes: encodeGguf({ metadata, tensors, alignment: 32 }), parameters, vocabularySize: nVocab };
}

/** Writes the tiny model to `path` (atomically: a half-written model must never be loaded). */
export async function generateTinyModel(options: GenerateTinyModelOptions): Promise<TinyModelInfo> {
  const { path, ...rest } = options;
  const { bytes, parameters, vocabularySize } = tinyModelGguf(rest);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, bytes);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { path, bytes: bytes.length, parameters, vocabularySize };
}
