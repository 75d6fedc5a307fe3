/** The serving subsystem's public surface: the provider role and the backends it serves from. */
export { createProvider, PROVIDER_STORE_FILE } from './provider/provider.ts';
export type { Provider, ProviderOptions, ProviderServiceOptions } from './provider/provider.ts';
export type { SettleOutcome, SettleResult } from './provider/settlement.ts';
export { createLlamaBackend } from './backends/llama-backend.ts';
export type { LlamaBackendDeps, LlamaBackendOptions } from './backends/llama-backend.ts';
export { createProxyBackend } from './backends/proxy-backend.ts';
export type { ProxyBackendDeps, ProxyBackendOptions } from './backends/proxy-backend.ts';
export { generateTinyModel } from './backends/tiny-model.ts';
export type { GenerateTinyModelOptions, TinyModelInfo } from './backends/tiny-model.ts';
export type { ChatBackend, ChatMessage, FinishReason, GenerateOptions, GenerateRequest, GenerateResult } from './backends/backend.ts';
