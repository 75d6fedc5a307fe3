import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LevityError, NotFoundError, UpstreamError } from '../protocol/errors.ts';
import { MANIFEST_FILE, manifestSchema } from '../protocol/manifest.ts';
import type { Manifest } from '../protocol/manifest.ts';

/** `devnet`: a devnet's data dir, its manifest file, or an http(s) URL serving that file (another host's devnet). */
export type ReadManifestParameters = { devnet?: string };
export type ReadManifestReturnType = Manifest;
export const DEFAULT_DEVNET_DIR = '.levity/devnet';

const FETCH_TIMEOUT_MS = 10_000;

/** Reads and validates a devnet's manifest (default `.levity/devnet/manifest.json`). */
export async function readManifest(parameters: ReadManifestParameters = {}): Promise<ReadManifestReturnType> {
  const where = parameters.devnet ?? DEFAULT_DEVNET_DIR;
  const { text, source } = /^https?:\/\//i.test(where) ? await fetchManifest(where) : await readManifestFile(where);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new LevityError('DEVNET_MANIFEST_INVALID', `devnet manifest ${source} is not valid JSON`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LevityError('DEVNET_MANIFEST_INVALID', `devnet manifest ${source}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

async function readManifestFile(where: string): Promise<{ text: string; source: string }> {
  const given = resolve(where);
  const isFile = await stat(given).then((s) => s.isFile(), () => false);
  const path = isFile ? given : join(given, MANIFEST_FILE);
  try {
    return { text: await readFile(path, 'utf8'), source: path };
  } catch (cause) {
    throw new NotFoundError('DEVNET_NOT_FOUND', `no devnet manifest at ${path}`, {
      details: 'start one with `levity up`, or point at it with --devnet DIR (or its manifest file or URL)',
      cause,
    });
  }
}

async function fetchManifest(url: string): Promise<{ text: string; source: string }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (cause) {
    throw new UpstreamError('DEVNET_UNREACHABLE', `cannot fetch the devnet manifest at ${url}`, { cause, meta: { url } });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    throw new NotFoundError('DEVNET_NOT_FOUND', `no devnet manifest at ${url}`, { meta: { url } });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new UpstreamError('DEVNET_UNREACHABLE', `fetching the devnet manifest at ${url} answered HTTP ${response.status}`, { meta: { url } });
  }
  return { text: await response.text(), source: url };
}
