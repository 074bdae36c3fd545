import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  anchorsOf,
  brokenLinkReason,
  githubSlug,
  linksOf,
  markdownFiles,
  repoRoot,
} from '../support/markdownDocs';

const files = markdownFiles();
const relative = (file: string) => path.relative(repoRoot, file);

describe('the link checker itself', () => {
  test.each([
    ['Try it against the sandbox: `--keep`', 'try-it-against-the-sandbox---keep'],
    [
      'Rotate the lifecycle URL (or its function key)',
      'rotate-the-lifecycle-url-or-its-function-key',
    ],
    ['What goes wrong, on purpose', 'what-goes-wrong-on-purpose'],
    ['In `npm test`', 'in-npm-test'],
    ['Command line: `graph-subs`', 'command-line-graph-subs'],
    ['[Links](x.md) and **bold**', 'links-and-bold'],
    ['snake_case stays', 'snake_case-stays'],
  ])('when a heading reads %j, then its GitHub anchor is %s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  test('when a heading repeats, then the repeats get -1, -2; headings in code blocks do not count', () => {
    const anchors = anchorsOf('# Notes\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n');
    expect([...anchors]).toEqual(['notes', 'notes-1', 'notes-2']);
  });

  test('when links sit in prose, code spans and code blocks, then only the prose ones count', () => {
    const links = linksOf(
      'See [a](a.md#x) and `[b](b.md)`.\n\n```md\n[c](c.md)\n```\n\n[ref]: docs/d.md "title"\n',
    );
    expect(links).toEqual([
      { line: 1, target: 'a.md#x' },
      { line: 7, target: 'docs/d.md' },
    ]);
  });

  test('when a link names a missing file or a missing heading, then it is reported', () => {
    const readme = path.join(repoRoot, 'README.md');
    expect(brokenLinkReason(readme, 'docs/no-such-page.md')).toBe(
      'docs/no-such-page.md does not exist',
    );
    expect(brokenLinkReason(readme, 'docs/cli.md#no-such-heading')).toBe(
      'docs/cli.md has no heading #no-such-heading',
    );
    expect(brokenLinkReason(readme, '#no-such-heading')).toBe(
      'README.md has no heading #no-such-heading',
    );
    expect(brokenLinkReason(readme, 'docs/cli.md#exit-codes-and-output')).toBeUndefined();
    expect(brokenLinkReason(readme, 'https://learn.microsoft.com/graph/')).toBeUndefined();
  });
});

describe('links in the documentation', () => {
  test('when the repository is read, then the front page, CONTRIBUTING, SECURITY and docs/ are there', () => {
    const names = files.map(relative);
    expect(names).toEqual(
      expect.arrayContaining([
        'README.md',
        'CONTRIBUTING.md',
        'SECURITY.md',
        path.join('docs', 'architecture.md'),
        path.join('docs', 'settings.md'),
      ]),
    );
  });

  test.each(files.map((f) => [relative(f), f]))(
    'when %s is rendered, then every relative link and anchor in it resolves',
    (_name, file) => {
      const broken = linksOf(readFileSync(file, 'utf8'))
        .map((link) => ({ link, reason: brokenLinkReason(file, link.target) }))
        .filter(({ reason }) => reason !== undefined)
        .map(({ link, reason }) => `line ${link.line}: (${link.target}) ${reason ?? ''}`);
      expect(broken).toEqual([]);
    },
  );

  test('when the README is read, then it stays a front page under 12,000 characters', () => {
    expect(readFileSync(path.join(repoRoot, 'README.md'), 'utf8').length).toBeLessThan(12_000);
  });
});
