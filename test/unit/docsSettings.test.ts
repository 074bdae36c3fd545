import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { settingsCatalog } from '../../shared/config';
import { linksOf, markdownFiles, proseLines, repoRoot } from '../support/markdownDocs';

/**
 * Every app setting the code reads (the catalogue in shared/config.ts) is documented once, as a
 * row of the table in docs/settings.md; any other page that names a setting links there.
 */

const settingsPage = path.join(repoRoot, 'docs', 'settings.md');
const pages = markdownFiles().map((file) => ({ file, text: readFileSync(file, 'utf8') }));
const relative = (file: string) => path.relative(repoRoot, file);

/** Table rows that document `name`: `| \`NAME\` | ...`, outside code blocks. */
function documentingRows(text: string, name: string): number {
  const row = new RegExp(`^\\s*\\|\\s*\`${name}\`\\s*\\|`);
  return proseLines(text).filter((line) => row.test(line)).length;
}

function linksToSettingsPage(file: string, text: string): boolean {
  return linksOf(text).some(({ target }) => {
    const pathPart = target.split('#')[0] ?? '';
    return pathPart !== '' && path.resolve(path.dirname(file), pathPart) === settingsPage;
  });
}

describe('settings documentation', () => {
  test.each(settingsCatalog.map((s) => [s.name]))(
    'when %s is a setting, then exactly one table row documents it, in docs/settings.md',
    (name) => {
      const rows = pages
        .map(({ file, text }) => ({ file: relative(file), count: documentingRows(text, name) }))
        .filter(({ count }) => count > 0);
      expect(rows).toEqual([{ file: relative(settingsPage), count: 1 }]);
    },
  );

  test('when another page names a setting, then it links to docs/settings.md', () => {
    const names = settingsCatalog.map((s) => s.name);
    const unlinked = pages
      .filter(({ file }) => file !== settingsPage)
      .filter(({ text }) => {
        const prose = proseLines(text).join('\n');
        return names.some((name) => new RegExp(`\\b${name}\\b`).test(prose));
      })
      .filter(({ file, text }) => !linksToSettingsPage(file, text))
      .map(({ file }) => relative(file));
    expect(unlinked).toEqual([]);
  });

  test('when a row documents a setting twice, then the count says so', () => {
    expect(documentingRows('| `A_B` | x |\n| `A_B` | y |\n```\n| `A_B` | z |\n```\n', 'A_B')).toBe(
      2,
    );
  });
});
