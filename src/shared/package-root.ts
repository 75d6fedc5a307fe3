import { fileURLToPath } from 'node:url';

/** The Levity package's root folder (where package.json, contracts/ and node_modules/ live). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
