/** Pure protocol rules and shapes, no I/O. */
export * from './errors.ts';
export * from './manifest.ts';
export * from './roles.ts';
