/**
 * A cheap upper bound on the work Lua's C matcher can do for one call, in matcher steps (about
 * one character test each). The CU lets the C matcher run a call, unmetered, only when this bound
 * is small, and charges the bound to the message's instruction meter; otherwise it runs the
 * metered matcher of lua-pattern.ts. One pass over the pattern, no allocation: it runs on every
 * string.find, match, gmatch and gsub.
 *
 * Backtracking is what makes patterns costly: a repetition (`*`, `+`, `-`) may be retried at
 * every length, so the rest of the pattern is tried up to n+1 times, and `?` twice. A repetition
 * followed only by items that always match (optional items and captures) never backtracks: the
 * first length tried succeeds. Such a trailing `*` or `+` still scans its run, but only inside a
 * match that succeeds, so across a whole gsub its scans add up to the subject length.
 */

export type LuaPatternCost = {
  /** Bound on one attempt at one start position. */
  perAttempt: number;
  /** Sum of the class widths of trailing repetitions: their scans cost this per matched byte. */
  trailing: number;
  /** The pattern starts with `^` and the caller honours it (find, match, gsub). */
  anchored: boolean;
  /** perAttempt grows with the subject length; when false it is the same for every subject. */
  scaled: boolean;
};

const SPECIAL = new Uint8Array(256);
for (const c of '^$*+?.([%-') SPECIAL[c.charCodeAt(0)] = 1;
const PERCENT = 0x25;
const MALFORMED = -1;
/** Past this the bound is useless anyway. */
const HUGE = 1e18;

/** Does `pattern[start, end)` hold one of Lua's special characters? string.find searches it as plain text otherwise. */
export function luaPatternSpecial(p: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (SPECIAL[p[k]!] === 1) return true;
  return false;
}

/** Index past the class at `i` (as the matcher reads it), or MALFORMED. */
function classEnd(p: Uint8Array, i: number, end: number): number {
  const c = p[i++];
  if (c === PERCENT) return i >= end ? MALFORMED : i + 1;
  if (c === 0x5b) {
    if (i < end && p[i] === 0x5e) i++;
    do {
      if (i >= end) return MALFORMED;
      if (p[i++] === PERCENT && i < end) i++;
    } while (i >= end || p[i] !== 0x5d);
    return i + 1;
  }
  return i;
}

/**
 * Fills `out` with the cost structure of `pattern[start, end)` against a subject of `n` bytes
 * (from the start position on). `honourAnchor` is false for gmatch, where `^` is a plain character.
 * A malformed item is treated as the end: the C matcher raises its error when it gets there.
 */
export function luaPatternCost(p: Uint8Array, start: number, end: number, n: number, honourAnchor: boolean, out: LuaPatternCost): void {
  let i = start;
  out.anchored = honourAnchor && i < end && p[i] === 0x5e;
  if (out.anchored) i++;
  const first = i;
  // Pass 1: where the last item that must consume input (or may fail) starts.
  let lastRequired = -1;
  while (i < end) {
    const at = i;
    const c = p[i]!;
    if (c === 0x28) {
      i += i + 1 < end && p[i + 1] === 0x29 ? 2 : 1;
      continue;
    }
    if (c === 0x29) {
      i++;
      continue;
    }
    if (c === 0x24 && i + 1 === end) {
      lastRequired = at;
      break;
    }
    if (c === PERCENT && i + 1 < end) {
      const d = p[i + 1]!;
      if (d === 0x62 || d === 0x66 || (d >= 0x30 && d <= 0x39)) {
        lastRequired = at;
        if (d === 0x62) i = i + 3 >= end ? MALFORMED : i + 4;
        else if (d === 0x66) i = i + 2 < end && p[i + 2] === 0x5b ? classEnd(p, i + 2, end) : MALFORMED;
        else i += 2;
        if (i === MALFORMED) break;
        continue;
      }
    }
    const ep = classEnd(p, i, end);
    if (ep === MALFORMED) {
      lastRequired = at;
      break;
    }
    const q = ep < end ? p[ep] : 0;
    if (q === 0x2a || q === 0x3f || q === 0x2d) {
      i = ep + 1;
      continue;
    }
    lastRequired = at;
    i = q === 0x2b ? ep + 1 : ep;
  }
  // Pass 2: sum over items of (item cost) x (how often the items before it may retry it).
  let sum = 0;
  let times = 1;
  let trailing = 0;
  let scaled = false;
  const n1 = n + 1;
  i = first;
  while (i < end && times < HUGE) {
    const at = i;
    const c = p[i]!;
    const restAlways = at >= lastRequired;
    if (c === 0x28 || c === 0x29) {
      sum += times;
      i += c === 0x28 && i + 1 < end && p[i + 1] === 0x29 ? 2 : 1;
      continue;
    }
    if (c === 0x24 && i + 1 === end) {
      sum += times;
      break;
    }
    if (c === PERCENT && i + 1 < end) {
      const d = p[i + 1]!;
      if (d === 0x62) {
        sum += times * (n1 + 1);
        scaled = true;
        if (i + 3 >= end) break;
        i += 4;
        continue;
      }
      if (d === 0x66) {
        const ep = i + 2 < end && p[i + 2] === 0x5b ? classEnd(p, i + 2, end) : MALFORMED;
        sum += times * (ep === MALFORMED ? 1 : 2 * (ep - i));
        if (ep === MALFORMED) break;
        i = ep;
        continue;
      }
      if (d >= 0x30 && d <= 0x39) {
        sum += times * n1;
        scaled = true;
        i += 2;
        continue;
      }
    }
    const ep = classEnd(p, i, end);
    if (ep === MALFORMED) {
      sum += times;
      break;
    }
    const width = c === 0x5b ? ep - i : 1;
    const q = ep < end ? p[ep] : 0;
    if (q === 0x3f) {
      sum += times * (width + 1);
      if (!restAlways) times *= 2;
      i = ep + 1;
    } else if (q === 0x2a || q === 0x2b) {
      if (restAlways) {
        sum += times * (width + 1);
        trailing += width;
      } else {
        sum += times * (width * n1 + 1);
        times *= n1;
        scaled = true;
      }
      i = ep + 1;
    } else if (q === 0x2d) {
      sum += restAlways ? times * (width + 1) : times * (width + 1) * n1;
      if (!restAlways) times *= n1;
      scaled ||= !restAlways;
      i = ep + 1;
    } else {
      sum += times * (width + 1);
      i = ep;
    }
  }
  out.perAttempt = times >= HUGE ? Infinity : sum + 1;
  out.trailing = trailing;
  out.scaled = scaled || times >= HUGE;
}

/**
 * The bound for a whole call. find and match stop at their first match (`repeated` false); gsub
 * and gmatch go on after each match, trying every position at most twice (after an empty match
 * the same position is tried again) and scanning trailing repetitions only inside their matches.
 */
export function luaPatternBound(cost: LuaPatternCost, n: number, repeated: boolean): number {
  const attempts = cost.anchored ? 1 : repeated ? 2 * (n + 1) : n + 1;
  return attempts * cost.perAttempt + (repeated ? 2 : 1) * cost.trailing * (n + 1);
}

/** The bound for a string.find that found its match at `start` (0-based, from `from`) ending at `end`, or none (start -1). */
export function luaFindCharge(cost: LuaPatternCost, n: number, from: number, start: number, end: number): number {
  if (start < 0) return (cost.anchored ? 1 : n + 1) * cost.perAttempt;
  return (cost.anchored ? 1 : start - from + 1) * cost.perAttempt + cost.trailing * (end - start + 1);
}
