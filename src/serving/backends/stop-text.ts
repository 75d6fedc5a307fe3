/**
 * Deciding how much of a growing generated text may be streamed yet. Two things must be held back: the tail that
 * could still become a stop string (a stop string is never sent), and trailing U+FFFD from a UTF-8 character whose
 * bytes arrive as separate byte-fallback tokens (the next token turns it into the real character).
 */

const REPLACEMENT = '\uFFFD';

export type StreamCut = {
  /** Where the first stop string starts, when one has appeared: the text ends there. */
  stopAt?: number;
  /** Text before this index may be sent now. */
  safeEnd: number;
};

/**
 * `full` is the whole text generated so far, `sent` how many characters of it were already streamed. A stop string
 * cannot start before `sent`: what was sent never ended in a stop string's prefix.
 */
export function cutStream(full: string, sent: number, stops: readonly string[]): StreamCut {
  let stopAt: number | undefined;
  for (const stop of stops) {
    const at = full.indexOf(stop, sent);
    if (at >= 0 && (stopAt === undefined || at < stopAt)) stopAt = at;
  }
  if (stopAt !== undefined) return { stopAt, safeEnd: stopAt };

  let hold = 0;
  while (hold < 3 && full.length - hold > sent && full[full.length - hold - 1] === REPLACEMENT) hold++;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, full.length - sent); k > hold; k--) {
      if (full.endsWith(stop.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return { safeEnd: Math.max(sent, full.length - hold) };
}
