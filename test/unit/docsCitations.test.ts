import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { commentsOf, commentsOfFile, sourceFiles } from '../support/codeComments';
import { markdownFiles, repoRoot } from '../support/markdownDocs';

/**
 * A comment may point a reader at this repository's files or at public pages, nothing else: no
 * notes kept beside the project, no source labels or section numbers of such notes.
 */

const codeDirs = ['functions', 'shared', 'cli', 'devkit', 'tools', 'bench', 'test', 'scripts'];

const outsideNotes: readonly { readonly why: string; readonly pattern: RegExp }[] = [
  { why: 'cites the Graph fact sheet', pattern: /graph[\s_-]*facts?\b/i },
  { why: 'cites the design notes', pattern: /\bdesign(?:\.md|\s+notes?|\s+doc)\b/i },
  { why: 'cites style or toolchain notes', pattern: /\b(?:style|toolchain)\.md\b/i },
  {
    why: 'cites a folder outside the repository',
    pattern: /(?:\.\.\/)+shared\/docs|shared\/docs\//i,
  },
  {
    why: 'cites a source label of the notes (S1, S23, ...)',
    pattern: /(?<![\w$.-])S\d{1,2}(?![\w$])/,
  },
  {
    why: 'cites a section number without saying of what',
    pattern: /(?<!RFC\s?\d+\s)\bsections?\s+\d+(?:\.\d+)?(?![\w-])/i,
  },
];

const markdownNames = new Set(markdownFiles().map((f) => path.basename(f)));

/** A `.md` file named in a comment that is not in the repository. */
function missingMarkdown(file: string, text: string): string[] {
  return [...text.matchAll(/[\w./-]*[\w-]\.md\b/g)]
    .map((m) => m[0])
    .filter((name) => {
      const candidates = [path.join(repoRoot, name), path.resolve(path.dirname(file), name)];
      return !candidates.some((c) => existsSync(c)) && !markdownNames.has(path.basename(name));
    });
}

function problemsOf(file: string, comments: readonly { line: number; text: string }[]): string[] {
  const where = path.relative(repoRoot, file);
  return comments.flatMap(({ line, text }) => {
    // Each line of a comment on its own, then the whole comment for citations broken over lines.
    const lines = text.split('\n');
    const perLine = lines.flatMap((lineText, offset) => [
      ...outsideNotes
        .filter(({ pattern }) => pattern.test(lineText))
        .map(({ why }) => `${where}:${line + offset} ${why}: ${lineText.trim().slice(0, 120)}`),
      ...missingMarkdown(file, lineText).map(
        (name) => `${where}:${line + offset} cites ${name}, which is not in the repository`,
      ),
    ]);
    if (perLine.length > 0) return perLine;
    const joined = lines.map((l) => l.replace(/^\s*\*?/, '')).join(' ');
    return outsideNotes
      .filter(({ pattern }) => pattern.test(joined))
      .map(({ why }) => `${where}:${line} ${why} (across lines)`);
  });
}

describe('citations in code comments', () => {
  test.each([
    ['// NOTE: see graph-facts section 4.', 2],
    ['/** Graph limits (design.md section 5). */', 3],
    ['/**\n * as the design\n * notes say\n */', 1],
    ['// NOTE: a byte-order mark is ignored (RFC 8259 section 8.1 allows it).', 0],
    ['// S1: clientState max 128 characters', 1],
    ['// Graph limits, S12.', 1],
    ['// see ../shared/docs/notes.md', 2],
    ['// rules from section 3.3', 1],
    ['// the docs/graph-rules.md#lifetimes table', 0],
    ['// https://learn.microsoft.com/graph/api/resources/subscription', 0],
    ["const s = 'graph-facts section 4'; // a string, not a comment", 0],
    ['const r = /S1|S2/; // a regular expression', 0],
    ['// SECTION_S1 is a name, S3Client too', 0],
  ])('when the source is %j, then %i problem(s) are found', (source, count) => {
    const file = path.join(repoRoot, 'shared', 'example.ts');
    expect(problemsOf(file, commentsOf(source))).toHaveLength(count);
  });

  test.each(codeDirs)(
    'when the comments under %s/ are read, then each cites only what a reader can open',
    (dir) => {
      const problems = sourceFiles(path.join(repoRoot, dir)).flatMap((file) =>
        problemsOf(file, commentsOfFile(file)),
      );
      expect(problems).toEqual([]);
    },
  );
});
