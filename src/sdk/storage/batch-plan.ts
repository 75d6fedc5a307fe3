/**
 * How a file's segments are cut into binary batches. Full batches amortise a request, but the
 * first bytes to hash arrive only once a whole batch has, and when the last batch lands every
 * other core is already idle. So the plan ramps: small batches first (hashing starts after a
 * fraction of a full batch), full ones in the middle, small ones again at the end (the last
 * hashing is short). Files of a few batches are simply cut in full batches.
 */

export type Batch = { first: number; count: number };

/** Ramp sizes, in segments, at each end of a long file. */
const RAMP = [2, 4, 8] as const;

export function batchPlan(segments: number, full: number): Batch[] {
  const ramp = RAMP.filter((size) => size < full);
  const rampSegments = ramp.reduce((sum, size) => sum + size, 0);
  // Ramps pay off only when there is a middle of full batches to ramp into.
  const sizes: number[] = [];
  if (segments >= 2 * rampSegments + 4 * full) {
    let middle = segments - 2 * rampSegments;
    sizes.push(...ramp);
    for (; middle > 0; middle -= full) sizes.push(Math.min(full, middle));
    sizes.push(...[...ramp].reverse());
  } else {
    for (let left = segments; left > 0; left -= full) sizes.push(Math.min(full, left));
  }
  const plan: Batch[] = [];
  let first = 0;
  for (const count of sizes) {
    plan.push({ first, count });
    first += count;
  }
  return plan;
}
