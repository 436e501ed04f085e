/**
 * parseRetryAfter: the HTTP `Retry-After` header (RFC 9110 §10.2.3) as a delay in milliseconds.
 *
 *   Retry-After = HTTP-date / delay-seconds        delay-seconds = 1*DIGIT
 *
 * An HTTP-date (§5.6.7) is accepted in all three forms a recipient must accept:
 *
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT    (the one senders must use)
 *   rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT   (obsolete; two-digit year)
 *   asctime-date Sun Nov  6 08:49:37 1994          (obsolete; no zone: read as GMT)
 *
 * Parsing is strict about structure (no `Date.parse`, which reads almost anything as some
 * date) and lenient about letter case and surrounding whitespace. The day name is checked to
 * be a day name, not to match the date. A date in the past gives 0. Pure: no state, no clock
 * read — the wall-clock time comes in as `now`.
 */
import { describe } from '../internal/describe.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const LONG_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const DELAY_SECONDS = /^\d+$/;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^([a-z]{3}), (\\d{2}) ([a-z]{3}) (\\d{4}) ${TIME} gmt$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = new RegExp(`^([a-z]{6,9}), (\\d{2})-([a-z]{3})-(\\d{2}) ${TIME} gmt$`);
/** `Sun Nov  6 08:49:37 1994` (a one-digit day is padded with a space). */
const ASCTIME_DATE = new RegExp(`^([a-z]{3}) ([a-z]{3}) ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * The delay a `Retry-After` header value asks for, in milliseconds from `now`: `"120"` is
 * 120 000; an HTTP-date is its distance from `now` (0 if it has passed). Returns `undefined`
 * for a missing value and for anything that is neither form (`"1.5"`, `"-1"`, `""`, `"soon"`,
 * an impossible date such as 30 February, two values joined by a comma, a number of seconds
too long to represent).
 *
 * `now` is the current wall-clock time in epoch milliseconds (`Date.now()`), since an HTTP-date
 * is absolute. Throws a RangeError if it is not a finite number.
 *
 * @example
 * ```ts
 * parseRetryAfter('120', Date.now()); // 120000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.UTC(2015, 9, 21, 7, 27, 30)); // 30000
 * parseRetryAfter(response.headers.get('retry-after'), Date.now()); // undefined if absent
 * ```
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!(typeof now === 'number' && Number.isFinite(now))) {
    throw new RangeError(
      `Expected \`now\` to be a finite number of milliseconds since the epoch, got ${describe(now)}`,
    );
  }
  if (typeof value !== 'string') return undefined;
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (DELAY_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? ms : undefined; // hundreds of digits: no meaningful delay
  }
  const date = parseHttpDate(text.toLowerCase(), now);
  return date === undefined ? undefined : Math.max(0, date - now);
}

/** An HTTP-date in lower case, as epoch milliseconds; `undefined` if it is not one. */
function parseHttpDate(text: string, now: number): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) {
    const [, day, date, month, year, hh, mm, ss] = m as unknown as string[];
    if (!DAYS.includes(day!)) return undefined;
    return utc(Number(year), month!, Number(date), hh!, mm!, ss!);
  }
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    const [, day, date, month, yy, hh, mm, ss] = m as unknown as string[];
    if (!LONG_DAYS.includes(day!)) return undefined;
    return utc(fullYear(Number(yy), now), month!, Number(date), hh!, mm!, ss!);
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) {
    const [, day, month, date, hh, mm, ss, year] = m as unknown as string[];
    if (!DAYS.includes(day!)) return undefined;
    return utc(Number(year), month!, Number(date!.trim()), hh!, mm!, ss!);
  }
  return undefined;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is the most
 * recent past year with those last two digits.
 */
function fullYear(yy: number, now: number): number {
  const current = new Date(now).getUTCFullYear();
  let year = current - (current % 100) + yy;
  if (year > current + 50) year -= 100;
  return year;
}

/** The time, or `undefined` if any field is out of range (a leap second 60 is allowed). */
function utc(
  year: number,
  monthName: string,
  date: number,
  hh: string,
  mm: string,
  ss: string,
): number | undefined {
  const month = MONTHS.indexOf(monthName);
  const hours = Number(hh);
  const minutes = Number(mm);
  const seconds = Number(ss);
  if (month < 0 || hours > 23 || minutes > 59 || seconds > 60 || date < 1) return undefined;
  const day = new Date(0);
  day.setUTCFullYear(year, month, date); // unlike Date.UTC, years 0–99 stay as they are
  if (day.getUTCMonth() !== month || day.getUTCDate() !== date) return undefined; // 30 Feb
  return day.getTime() + ((hours * 60 + minutes) * 60 + seconds) * 1000;
}
