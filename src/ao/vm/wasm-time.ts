/**
 * Emscripten's date imports (gmtime, localtime, mktime, timegm, tzset, strftime) for a host
 * whose only zone is UTC and whose clock is the message timestamp: the same message gives the
 * same text on every CU, whatever the machine's TZ or locale.
 */
import type { HostFn, HostMemory } from './wasm-host-memory.ts';

type Tm = { sec: number; min: number; hour: number; mday: number; mon: number; year: number; wday: number; yday: number };

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const TM_FIELDS = ['sec', 'min', 'hour', 'mday', 'mon', 'year', 'wday', 'yday'] as const;
const DAY_MS = 86_400_000;

function readTm(m: HostMemory, ptr: number): Tm {
  const dv = m.dv();
  const tm = {} as Tm;
  TM_FIELDS.forEach((field, i) => (tm[field] = dv.getInt32(ptr + i * 4, true)));
  return tm;
}

/** Fills a struct tm from a UTC time; isdst and gmtoff are 0 (tm_zone is left to the C side). */
function writeTm(m: HostMemory, ptr: number, ms: number): void {
  const d = new Date(ms);
  const values = [
    d.getUTCSeconds(),
    d.getUTCMinutes(),
    d.getUTCHours(),
    d.getUTCDate(),
    d.getUTCMonth(),
    d.getUTCFullYear() - 1900,
    d.getUTCDay(),
    Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS),
    0,
  ];
  const dv = m.dv();
  values.forEach((value, i) => dv.setInt32(ptr + i * 4, value, true));
  m.writeSize(m.is64 ? ptr + 40 : ptr + 36, 0);
}

function tmToMs(tm: Tm): number {
  return Date.UTC(tm.year + 1900, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
}

function pad(value: number, width: number, fill = '0'): string {
  return String(value).padStart(width, fill);
}

function weeksInYear(year: number): number {
  const p = (y: number) => (y + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400)) % 7;
  return p(year) === 4 || p(year - 1) === 3 ? 53 : 52;
}

function isoWeek(tm: Tm): { year: number; week: number } {
  const year = tm.year + 1900;
  const week = Math.floor((tm.yday - ((tm.wday + 6) % 7) + 10) / 7);
  if (week < 1) return { year: year - 1, week: weeksInYear(year - 1) };
  if (week > weeksInYear(year)) return { year: year + 1, week: 1 };
  return { year, week };
}

/** C-locale strftime; unknown conversions are copied through as written. */
export function formatTm(format: string, tm: Tm): string {
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%' || i + 1 >= format.length) {
      out += c;
      continue;
    }
    let spec = format[++i]!;
    // The E and O modifiers ask for locale alternatives; the C locale has none.
    if ((spec === 'E' || spec === 'O') && i + 1 < format.length) spec = format[++i]!;
    out += conversion(spec, tm) ?? `%${spec}`;
  }
  return out;
}

function conversion(spec: string, tm: Tm): string | undefined {
  const year = tm.year + 1900;
  const hour12 = tm.hour % 12 === 0 ? 12 : tm.hour % 12;
  switch (spec) {
    case 'a': return DAYS[tm.wday]?.slice(0, 3) ?? '?';
    case 'A': return DAYS[tm.wday] ?? '?';
    case 'b': case 'h': return MONTHS[tm.mon]?.slice(0, 3) ?? '?';
    case 'B': return MONTHS[tm.mon] ?? '?';
    case 'c': return formatTm('%a %b %e %H:%M:%S %Y', tm);
    case 'C': return pad(Math.floor(year / 100), 2);
    case 'd': return pad(tm.mday, 2);
    case 'D': case 'x': return formatTm('%m/%d/%y', tm);
    case 'e': return pad(tm.mday, 2, ' ');
    case 'F': return formatTm('%Y-%m-%d', tm);
    case 'g': return pad(isoWeek(tm).year % 100, 2);
    case 'G': return String(isoWeek(tm).year);
    case 'H': return pad(tm.hour, 2);
    case 'I': return pad(hour12, 2);
    case 'j': return pad(tm.yday + 1, 3);
    case 'm': return pad(tm.mon + 1, 2);
    case 'M': return pad(tm.min, 2);
    case 'n': return '\n';
    case 'p': return tm.hour < 12 ? 'AM' : 'PM';
    case 'r': return formatTm('%I:%M:%S %p', tm);
    case 'R': return formatTm('%H:%M', tm);
    case 'S': return pad(tm.sec, 2);
    case 't': return '\t';
    case 'T': case 'X': return formatTm('%H:%M:%S', tm);
    case 'u': return String(tm.wday === 0 ? 7 : tm.wday);
    case 'U': return pad(Math.floor((tm.yday + 7 - tm.wday) / 7), 2);
    case 'V': return pad(isoWeek(tm).week, 2);
    case 'w': return String(tm.wday);
    case 'W': return pad(Math.floor((tm.yday + 7 - ((tm.wday + 6) % 7)) / 7), 2);
    case 'y': return pad(year % 100, 2);
    case 'Y': return String(year);
    case 'z': return '+0000';
    case 'Z': return 'UTC';
    case '%': return '%';
    default: return undefined;
  }
}

/**
 * Old emscripten passes a time_t pointer (`_gmtime_js(timePtr, tmPtr)`, 32-bit time_t on
 * wasm32); newer ones pass the value, as an i64 or as a legalised low/high pair.
 */
function timeArgument(m: HostMemory, args: number[], types: readonly string[]): { seconds: number; tm: number } {
  if (args.length >= 3) return { seconds: args[0]! + args[1]! * 2 ** 32, tm: args[2]! };
  if (types[0] === 'i64') return { seconds: args[0]!, tm: args[1]! };
  return { seconds: m.dv().getInt32(args[0]!, true), tm: args[1]! };
}

/** Clocks that read the message's timestamp (`now()`, ms); CPU time is always 0. */
export function clockImports(m: HostMemory, now: () => number): Record<string, HostFn> {
  const long = m.is64 ? 8 : 4;
  const timespec = (ptr: number, subsecondUnit: number) => {
    m.writeSize(ptr, Math.floor(now() / 1000));
    m.writeSize(ptr + long, (now() % 1000) * subsecondUnit);
    return 0;
  };
  const nowMs: HostFn = () => now();
  const monotonic: HostFn = () => 1;
  return {
    emscripten_date_now: nowMs,
    emscripten_get_now: nowMs,
    _emscripten_get_now: nowMs,
    emscripten_get_now_res: () => 1_000_000,
    emscripten_get_now_is_monotonic: monotonic,
    _emscripten_get_now_is_monotonic: monotonic,
    time: (args) => {
      const seconds = Math.floor(now() / 1000);
      if (args[0]) m.writeSize(args[0], seconds);
      return seconds;
    },
    clock: () => 0,
    // (time1, time0), or two legalised i64 halves each.
    difftime: (args) => (args.length === 4 ? args[0]! + args[1]! * 2 ** 32 - (args[2]! + args[3]! * 2 ** 32) : args[0]! - args[1]!),
    clock_gettime: (args) => timespec(args[1]!, 1_000_000),
    __clock_gettime: (args) => timespec(args[1]!, 1_000_000),
    gettimeofday: (args) => timespec(args[0]!, 1000),
    clock_getres: (args) => {
      m.writeSize(args[1]!, 0);
      m.writeSize(args[1]! + long, 1_000_000);
      return 0;
    },
    // WASI: nanoseconds as a u64 at the last argument (the precision may come as two i32 halves).
    clock_time_get: (args) => {
      m.dv().setBigUint64(args.at(-1)!, BigInt(Math.trunc(now())) * 1_000_000n, true);
      return 0;
    },
    clock_res_get: (args) => {
      m.dv().setBigUint64(args.at(-1)!, 1_000_000n, true);
      return 0;
    },
  };
}

export function timeImports(m: HostMemory): Record<string, HostFn> {
  const toTm: HostFn = (args, types) => {
    const { seconds, tm } = timeArgument(m, args, types.params);
    writeTm(m, tm, seconds * 1000);
    return 0;
  };
  /** Normalises the fields (mday 32 rolls into the next month, as mktime does) and returns seconds. */
  const fromTm: HostFn = (args) => {
    const ms = tmToMs(readTm(m, args[0]!));
    writeTm(m, args[0]!, ms);
    const seconds = Math.floor(ms / 1000);
    m.setTempRet0(seconds < 0 ? -1 : Math.floor(seconds / 2 ** 32));
    return seconds;
  };
  return {
    _gmtime_js: toTm,
    _localtime_js: toTm,
    _mktime_js: fromTm,
    _timegm_js: fromTm,
    // (timezone*, daylight*, tzname[2]) in old versions; (timezone*, daylight*, std, dst) buffers later.
    _tzset_js: (args) => {
      m.writeSize(args[0]!, 0); // long timezone
      m.dv().setInt32(args[1]!, 0, true); // int daylight
      if (args.length >= 4) {
        m.writeCString(args[2]!, 'UTC');
        m.writeCString(args[3]!, 'UTC');
        return 0;
      }
      // The names live in the module's memory: set once, by the memory's own record of it, so a
      // restored instance behaves exactly like the one its memory came from.
      const names = args[2]!;
      if (m.readPointer(names) !== 0) return 0;
      const utc = m.allocCString('UTC');
      m.writePointer(names, utc);
      m.writePointer(names + (m.is64 ? 8 : 4), utc);
      return 0;
    },
    strftime: (args) => strftimeInto(m, args),
    strftime_l: (args) => strftimeInto(m, args),
  };
}

function strftimeInto(m: HostMemory, args: number[]): number {
  const [s, max, format, tmPtr] = args as [number, number, number, number];
  const bytes = new TextEncoder().encode(formatTm(m.readCString(format), readTm(m, tmPtr)));
  if (bytes.length + 1 > max) return 0;
  const u8 = m.u8();
  u8.set(bytes, s);
  u8[s + bytes.length] = 0;
  return bytes.length;
}
