import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Reads the repository's Markdown the way GitHub renders it, enough to check links and anchors:
 * fenced code and inline code are not prose, headings get GitHub's slugs.
 */

export const repoRoot = path.join(__dirname, '..', '..');

const skippedDirs = new Set(['node_modules', 'dist', 'dist-tools', 'coverage', '.git', '.ci']);

/** README.md, CONTRIBUTING.md, SECURITY.md, docs/*.md and every other .md in the repository. */
export function markdownFiles(dir: string = repoRoot): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skippedDirs.has(entry.name)) found.push(...markdownFiles(full));
    } else if (entry.name.endsWith('.md')) {
      found.push(full);
    }
  }
  return found.sort();
}

/** The text outside fenced code blocks (``` or ~~~), line for line; fenced lines become ''. */
export function proseLines(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker !== undefined) {
      fence = marker;
      return '';
    }
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) {
        fence = undefined;
      }
      return '';
    }
    return line;
  });
}

function withoutInlineCode(line: string): string {
  return line.replace(/(`+)[^`]*?\1/g, '');
}

/** GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a file offers: heading slugs (repeats get -1, -2, ...) and HTML ids or names. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = githubSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

export interface MarkdownLink {
  readonly line: number;
  readonly target: string;
}

/** Inline links and images `[text](target)` and reference definitions `[ref]: target`. */
export function linksOf(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  proseLines(markdown).forEach((raw, index) => {
    const line = withoutInlineCode(raw);
    for (const m of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ line: index + 1, target: m[1]! });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line)?.[1];
    if (definition !== undefined) links.push({ line: index + 1, target: definition });
  });
  return links;
}

const external = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/**
 * Why a link from `file` does not resolve, or undefined when it does: a relative path must
 * exist in the repository, and an anchor must be one the target Markdown file offers.
 */
export function brokenLinkReason(file: string, target: string): string | undefined {
  if (external.test(target)) return undefined;
  const hashAt = target.indexOf('#');
  const pathPart = decodeURIComponent(hashAt === -1 ? target : target.slice(0, hashAt));
  const anchor = hashAt === -1 ? undefined : decodeURIComponent(target.slice(hashAt + 1));
  const resolved = pathPart === '' ? file : path.resolve(path.dirname(file), pathPart);
  if (!resolved.startsWith(repoRoot)) return 'points outside the repository';
  if (!existsSync(resolved)) return `${path.relative(repoRoot, resolved)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
    return `#${anchor} on a file that is not Markdown`;
  }
  const anchors = anchorsOf(readFileSync(resolved, 'utf8'));
  return anchors.has(anchor)
    ? undefined
    : `${path.relative(repoRoot, resolved)} has no heading #${anchor}`;
}
