/** Renders a received value for error messages: `` `-1` (number) ``, `` `"x"` (string) ``. */
export function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = `function ${value.name || '(anonymous)'}`;
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (Object.is(value, -0)) shown = '-0';
  else if (typeof value === 'object' && value !== null) {
    try {
      shown = JSON.stringify(value) ?? String(value);
    } catch {
      shown = Object.prototype.toString.call(value);
    }
  } else shown = String(value);
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}
