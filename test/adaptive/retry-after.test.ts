/**
 * parseRetryAfter: RFC 9110 §10.2.3, both forms, the three HTTP-date formats, and garbage.
 * Tables of `[value, expected]` against a fixed `now`.
 */
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/adaptive/retry-after.js';
import { caught } from '../support/errors.js';

/** Sun, 06 Nov 1994 08:49:37 GMT — RFC 9110's example date. */
const EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseRetryAfter: delay-seconds', () => {
  it.each([
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    ['007', 7000],
    [' 5 ', 5000], // optional whitespace around a field value
    ['\t3', 3000],
    ['86400', 86_400_000],
    ['99999999999', 99_999_999_999_000],
  ])('%j → %d ms', (value, expected) => {
    expect(parseRetryAfter(value, EXAMPLE)).toBe(expected);
  });

  it('does not depend on now', () => {
    expect(parseRetryAfter('30', 0)).toBe(30_000);
    expect(parseRetryAfter('30', Date.UTC(2100, 0, 1))).toBe(30_000);
  });
});

describe('parseRetryAfter: HTTP-date', () => {
  it.each([
    // IMF-fixdate
    ['Sun, 06 Nov 1994 08:49:37 GMT', EXAMPLE - 60_000, 60_000],
    ['Sun, 06 Nov 1994 08:49:37 GMT', EXAMPLE, 0],
    ['Sun, 06 Nov 1994 08:50:37 GMT', EXAMPLE, 60_000],
    ['Mon, 07 Nov 1994 08:49:37 GMT', EXAMPLE, 86_400_000],
    ['Wed, 21 Oct 2015 07:28:00 GMT', Date.UTC(2015, 9, 21, 7, 27, 30), 30_000],
    ['Thu, 29 Feb 2024 00:00:00 GMT', Date.UTC(2024, 1, 28, 23, 59, 59), 1000], // leap day
    ['sun, 06 nov 1994 08:49:47 gmt', EXAMPLE, 10_000], // case-insensitive
    ['  Sun, 06 Nov 1994 08:49:47 GMT  ', EXAMPLE, 10_000],
    // rfc850-date (obsolete), two-digit year
    ['Sunday, 06-Nov-94 08:49:47 GMT', EXAMPLE, 10_000],
    // asctime-date (obsolete), space-padded day
    ['Sun Nov  6 08:49:47 1994', EXAMPLE, 10_000],
    ['Sun Nov 06 08:49:47 1994', EXAMPLE, 10_000],
  ])('%j at %d → %d ms', (value, now, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('a date in the past is a delay of 0', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', EXAMPLE + 3_600_000)).toBe(0);
  });

  it('rfc850 two-digit years: more than 50 years ahead means the previous century', () => {
    const now = Date.UTC(2025, 0, 1);
    // 94 → 2094 is more than 50 years ahead of 2025: 1994, in the past.
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(0);
    // 26 → 2026, within 50 years.
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:00:00 GMT', now)).toBe(365 * 86_400_000);
    // 75 → 2075 is exactly 50 years ahead: kept.
    expect(parseRetryAfter('Tuesday, 01-Jan-75 00:00:00 GMT', now)).toBe(
      Date.UTC(2075, 0, 1) - now,
    );
    // 76 → 2076 is more than 50 years ahead: 1976.
    expect(parseRetryAfter('Thursday, 01-Jan-76 00:00:00 GMT', now)).toBe(0);
  });

  it('a four-digit year below 100 is that year, not 19xx', () => {
    const year = (y: number): number => new Date(0).setUTCFullYear(y, 0, 1);
    const now = year(60);
    expect(parseRetryAfter('Sat, 01 Jan 0050 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Sat, 01 Jan 0070 00:00:00 GMT', now)).toBe(year(70) - now);
  });
});

describe('parseRetryAfter: anything else is undefined', () => {
  it.each([
    [null],
    [undefined],
    [''],
    ['   '],
    ['1.5'],
    ['-1'],
    ['+5'],
    ['1e3'],
    ['0x10'],
    ['5s'],
    ['soon'],
    ['120, 120'], // two headers joined by Headers.get
    ['9'.repeat(400)], // a delay too long to represent
    ['Sun, 06 Nov 1994 08:49:37'], // no zone
    ['Sun, 06 Nov 1994 08:49:37 UTC'], // only GMT is allowed
    ['Sun, 6 Nov 1994 08:49:37 GMT'], // IMF-fixdate has a two-digit day
    ['Sun, 30 Feb 1994 08:49:37 GMT'], // no such day
    ['Sun, 31 Apr 1994 08:49:37 GMT'],
    ['Sun, 06 Nov 1994 24:00:00 GMT'],
    ['Sun, 06 Nov 1994 08:60:00 GMT'],
    ['Sun, 00 Nov 1994 08:49:37 GMT'],
    ['Sun, 06 Foo 1994 08:49:37 GMT'],
    ['Xyz, 06 Nov 1994 08:49:37 GMT'],
    ['Sunday, 06 Nov 1994 08:49:37 GMT'], // long day name in the fixdate form
    ['Sun, 06-Nov-94 08:49:37 GMT'], // short day name in the rfc850 form
    ['Sun Nov  6 08:49:37 1994 GMT'],
    ['1994-11-06T08:49:37Z'], // ISO 8601 is not an HTTP-date
    ['Tue Nov 06 1994'],
    ['  1x'],
  ])('%j', (value) => {
    expect(parseRetryAfter(value, EXAMPLE)).toBeUndefined();
  });

  it('non-strings at run time (a Node header array, a number) are undefined', () => {
    expect(parseRetryAfter(['5'] as unknown as string, EXAMPLE)).toBeUndefined();
    expect(parseRetryAfter(5 as unknown as string, EXAMPLE)).toBeUndefined();
  });

  it('a leap second (60) is accepted', () => {
    expect(
      parseRetryAfter('Sat, 31 Dec 2016 23:59:60 GMT', Date.UTC(2016, 11, 31, 23, 59, 0)),
    ).toBe(60_000);
  });
});

describe('parseRetryAfter: misuse', () => {
  it.each([
    [Number.NaN, '`NaN` (number)'],
    [Number.POSITIVE_INFINITY, '`Infinity` (number)'],
    ['1000', '`"1000"` (string)'],
  ])('now = %j throws a RangeError naming it', (now, shown) => {
    const error = caught(() => parseRetryAfter('5', now as number));
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Expected \`now\` to be a finite number of milliseconds since the epoch, got ${shown}`,
    );
  });
});
