/**
 * A small reader of the parts of Bicep files the deploy tests check (no Bicep CLI here): the
 * object and array literals assigned to `var`s, with nested literals, strings (interpolation and
 * escapes included) and comments skipped correctly. Anything else is kept as raw text.
 */

export type BicepValue =
  | { readonly kind: 'object'; readonly entries: ReadonlyMap<string, BicepValue> }
  | { readonly kind: 'array'; readonly items: readonly BicepValue[] }
  | { readonly kind: 'raw'; readonly text: string };

/** Source with comments blanked out (same length, so positions hold), strings kept. */
export function withoutComments(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === "'") {
      const end = stringEnd(source, i);
      out += source.slice(i, end);
      i = end;
    } else if (source.startsWith('//', i)) {
      while (i < source.length && source[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c ?? '';
      i++;
    }
  }
  return out;
}

/** Index just past the string starting at `start` (a `'`), multi-line strings included. */
function stringEnd(source: string, start: number): number {
  if (source.startsWith("'''", start)) {
    const end = source.indexOf("'''", start + 3);
    if (end === -1) throw new Error('unterminated multi-line string');
    return end + 3;
  }
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else if (c === '$' && source[i + 1] === '{') i = closing(source, i + 1) + 1;
    else i++;
  }
  throw new Error(`unterminated string at ${start}`);
}

/** Index of the bracket closing the one at `open`. */
function closing(source: string, open: number): number {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  let i = open;
  while (i < source.length) {
    const c = source[i] ?? '';
    if (c === "'") {
      i = stringEnd(source, i);
      continue;
    }
    const close = pairs[c];
    if (close !== undefined) stack.push(close);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i;
    }
    i++;
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

function skipSpace(source: string, i: number, newlines: boolean): number {
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\r' || (newlines && (c === '\n' || c === ','))) i++;
    else break;
  }
  return i;
}

/** Reads the value at `i`: a literal, or raw text up to the end of the line at depth 0. */
function readValue(source: string, i: number): [BicepValue, number] {
  i = skipSpace(source, i, false);
  const c = source[i];
  if (c === '{') {
    const end = closing(source, i);
    return [readObject(source.slice(i + 1, end)), end + 1];
  }
  if (c === '[') {
    const end = closing(source, i);
    return [readArray(source.slice(i + 1, end)), end + 1];
  }
  let j = i;
  while (j < source.length && source[j] !== '\n' && source[j] !== ',') {
    const d = source[j] ?? '';
    if (d === "'") j = stringEnd(source, j);
    else if (d === '(' || d === '[' || d === '{') j = closing(source, j) + 1;
    else j++;
  }
  return [{ kind: 'raw', text: source.slice(i, j).trim() }, j];
}

function readObject(body: string): BicepValue {
  const entries = new Map<string, BicepValue>();
  let i = skipSpace(body, 0, true);
  while (i < body.length) {
    const key = /^(?:'([^']*)'|([A-Za-z_][\w]*))\s*:/.exec(body.slice(i));
    if (key === null) throw new Error(`expected a key at: ${body.slice(i, i + 40)}`);
    const name = key[1] ?? key[2] ?? '';
    const [value, next] = readValue(body, i + key[0].length);
    entries.set(name, value);
    i = skipSpace(body, next, true);
  }
  return { kind: 'object', entries };
}

function readArray(body: string): BicepValue {
  const items: BicepValue[] = [];
  let i = skipSpace(body, 0, true);
  while (i < body.length) {
    const [value, next] = readValue(body, i);
    items.push(value);
    i = skipSpace(body, next, true);
  }
  return { kind: 'array', items };
}

/** The value of `var NAME = ...` in a Bicep source. */
export function bicepVar(source: string, name: string): BicepValue {
  const clean = withoutComments(source);
  const at = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(clean);
  if (at === null) throw new Error(`no var ${name}`);
  return readValue(clean, at.index + at[0].length)[0];
}

export function objectOf(value: BicepValue): ReadonlyMap<string, BicepValue> {
  if (value.kind !== 'object') throw new Error(`expected an object, got ${value.kind}`);
  return value.entries;
}

export function rawOf(value: BicepValue | undefined): string {
  if (value?.kind !== 'raw') throw new Error(`expected a plain value, got ${value?.kind}`);
  return value.text;
}

/** `param NAME TYPE [= DEFAULT]` lines: names to their default text (undefined: required). */
export function bicepParams(source: string): ReadonlyMap<string, string | undefined> {
  const params = new Map<string, string | undefined>();
  for (const m of withoutComments(source).matchAll(/^param\s+(\w+)\s+\w+(?:\s*=\s*(.*))?$/gm)) {
    params.set(m[1] ?? '', m[2]?.trim());
  }
  return params;
}

/** Resource declarations: symbolic name and type, e.g. `Microsoft.Storage/storageAccounts@2023-05-01`. */
export function bicepResources(source: string): { name: string; type: string }[] {
  return [...withoutComments(source).matchAll(/^\s*resource\s+(\w+)\s+'([^']+)'/gm)].map((m) => ({
    name: m[1] ?? '',
    type: m[2] ?? '',
  }));
}

/** Module declarations: symbolic name and path (local file or registry reference). */
export function bicepModules(source: string): { name: string; path: string }[] {
  return [...withoutComments(source).matchAll(/^module\s+(\w+)\s+'([^']+)'/gm)].map((m) => ({
    name: m[1] ?? '',
    path: m[2] ?? '',
  }));
}
