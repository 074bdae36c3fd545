import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Comments of TypeScript and JavaScript sources, with the line each starts on. */

export interface CodeComment {
  readonly line: number;
  readonly text: string;
}

const sourceExtensions = new Set(['.ts', '.js', '.mjs', '.cjs']);

export function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') found.push(...sourceFiles(full));
    } else if (sourceExtensions.has(path.extname(entry.name))) {
      found.push(full);
    }
  }
  return found.sort();
}

export function commentsOfFile(file: string): CodeComment[] {
  return commentsOf(readFileSync(file, 'utf8'));
}

/** After these, a `/` starts a regular expression rather than a division. */
const beforeRegex = new Set(['', '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+']);

/**
 * A small lexer: strings, template literals and regular expression literals are skipped, so a
 * `//` inside them is not taken for a comment. Good enough for this repository's sources.
 */
export function commentsOf(source: string): CodeComment[] {
  const comments: CodeComment[] = [];
  let line = 1;
  let lastSignificant = '';
  let i = 0;
  const n = source.length;
  const advance = (to: number) => {
    for (let k = i; k < to && k < n; k++) if (source[k] === '\n') line++;
    i = to;
  };
  while (i < n) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      comments.push({ line, text: source.slice(i + 2, stop) });
      advance(stop);
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      comments.push({ line, text: source.slice(i + 2, stop - 2) });
      advance(stop);
    } else if (c === "'" || c === '"' || c === '`') {
      let k = i + 1;
      while (k < n && source[k] !== c) k += source[k] === '\\' ? 2 : 1;
      advance(k + 1);
      lastSignificant = c;
    } else if (
      c === '/' &&
      (beforeRegex.has(lastSignificant) || /return$/.test(source.slice(0, i).trimEnd()))
    ) {
      let k = i + 1;
      let inClass = false;
      while (k < n && source[k] !== '\n' && (inClass || source[k] !== '/')) {
        if (source[k] === '\\') k++;
        else if (source[k] === '[') inClass = true;
        else if (source[k] === ']') inClass = false;
        k++;
      }
      advance(k + 1);
      lastSignificant = 'regex';
    } else {
      if (!/\s/.test(c)) lastSignificant = c;
      advance(i + 1);
    }
  }
  return comments;
}
