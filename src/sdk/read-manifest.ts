import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LevityError, NotFoundError } from '../protocol/errors.ts';
import { MANIFEST_FILE, manifestSchema } from '../protocol/manifest.ts';
import type { Manifest } from '../protocol/manifest.ts';

export type ReadManifestParameters = { devnet?: string };
export type ReadManifestReturnType = Manifest;
export const DEFAULT_DEVNET_DIR = '.levity/devnet';

/** Reads and validates `DIR/manifest.json` of a devnet (default `.levity/devnet`). */
export async function readManifest(parameters: ReadManifestParameters = {}): Promise<ReadManifestReturnType> {
  const path = join(resolve(parameters.devnet ?? DEFAULT_DEVNET_DIR), MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new NotFoundError('DEVNET_NOT_FOUND', `no devnet manifest at ${path}`, {
      details: 'start one with `levity up`, or point at it with --devnet DIR',
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new LevityError('DEVNET_MANIFEST_INVALID', `devnet manifest ${path} is not valid JSON`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LevityError('DEVNET_MANIFEST_INVALID', `devnet manifest ${path}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
