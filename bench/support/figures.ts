/**
 * What a scenario reports: named figures (the names of issue 8, used as keys of `--json`), each
 * with its target where the issue sets one, and notes that say how it was measured.
 */

export type Comparison = 'atLeast' | 'atMost' | 'below' | 'equal';

export interface Target {
  readonly comparison: Comparison;
  readonly value: number;
}

export interface Figure {
  /** e.g. `sweep.paceRatio`. */
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: Target;
  /** How it was measured, in a few words (shown in the table). */
  readonly detail: string;
  /** A condition besides the target that the figure needs to count as met (e.g. every answer 202). */
  readonly condition?: { readonly holds: boolean; readonly description: string };
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly figures: readonly Figure[];
  /** Wall time of the scenario, set-up included. */
  readonly wallMs: number;
  /** Context worth keeping in the JSON (counts, settings). */
  readonly facts: Readonly<Record<string, number | string | boolean>>;
  /** Set when the scenario could not finish; its figures are then missing. */
  readonly error?: string;
}

export function meets(figure: Figure): boolean | undefined {
  const t = figure.target;
  if (t === undefined) return undefined;
  if (figure.condition?.holds === false) return false;
  switch (t.comparison) {
    case 'atLeast':
      return figure.value >= t.value;
    case 'atMost':
      return figure.value <= t.value;
    case 'below':
      return figure.value < t.value;
    case 'equal':
      return figure.value === t.value;
  }
}

export function describeTarget(figure: Figure): string {
  const { target, unit } = figure;
  if (target === undefined) return '';
  const sign = { atLeast: '>=', atMost: '<=', below: '<', equal: '=' }[target.comparison];
  const text = `${sign} ${formatNumber(target.value)}${unit === '' ? '' : ` ${unit}`}`;
  return figure.condition === undefined ? text : `${text}, ${figure.condition.description}`;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toFixed(digits);
}
