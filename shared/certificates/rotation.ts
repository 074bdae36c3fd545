import type { AppDependencies } from '../composition';
import { isOperationError } from '../operations/errors';
import { applyDefinition } from '../operations/subscriptionOperations';
import type { ManagedSubscription, StoredSubscription } from '../subscriptions/model';
import { describeReference, referenceKey, type CertificateReference } from './certificateReference';
import { isCertificateUnavailableError, type ResolvedCertificate } from './certificateSource';
import { certificateProblems } from './publicCertificate';

/**
 * Certificate rotation: works out the certificate each referenced definition should use now
 * (Key Vault's latest version, or the app setting's PEM), and moves every subscription whose
 * applied certificate differs onto it with a PATCH, paced under Graph's write limits like
 * renewals (the PATCH goes through `applyDefinition`, which takes a write slot of the pacer and
 * claims the row). The old certificate stays what the owner decrypts with until the last
 * subscription has moved; the view shows each subscription's `encryptionCertificateId`.
 */

export interface RotationDecision {
  readonly tenantId: string;
  readonly key: string;
  readonly from: string | undefined;
  readonly to: string;
}

export interface RotationPlan {
  readonly rotate: readonly RotationDecision[];
  /** Certificates within the margin of expiry with nothing newer to move to (one per reference). */
  readonly expiringWithoutSuccessor: readonly {
    readonly reference: string;
    readonly notAfter: Date;
  }[];
}

/**
 * Pure: which subscriptions move to which certificate. `current` holds the certificate each
 * reference resolves to now (references that could not be read are absent and left alone).
 */
export function planRotation(
  rows: readonly ManagedSubscription[],
  current: ReadonlyMap<string, ResolvedCertificate>,
  now: Date,
  marginMs: number,
): RotationPlan {
  const rotate: RotationDecision[] = [];
  const expiring = new Map<string, Date>();
  for (const row of rows) {
    const reference = row.definition.encryptionCertificateSource;
    if (reference === undefined || row.status === 'deleting') continue;
    const wanted = current.get(referenceKey(reference));
    if (wanted === undefined) continue;
    const usable = certificateProblems(wanted, now).length === 0;
    const applied = row.definition.encryptionCertificateId;
    if (
      usable &&
      (applied !== wanted.id || row.definition.encryptionCertificate !== wanted.base64Der)
    ) {
      rotate.push({
        tenantId: row.definition.tenantId,
        key: row.definition.key,
        from: applied,
        to: wanted.id,
      });
      continue;
    }
    if (wanted.notAfter.getTime() - marginMs <= now.getTime()) {
      expiring.set(describeReference(reference), wanted.notAfter);
    }
  }
  return {
    rotate,
    expiringWithoutSuccessor: [...expiring].map(([reference, notAfter]) => ({
      reference,
      notAfter,
    })),
  };
}

export interface RotationSummary {
  readonly checked: number;
  readonly rotated: number;
  readonly failed: number;
  readonly unavailable: number;
  readonly expiringWithoutSuccessor: number;
}

const pageSize = 500;

/** Reads every referenced subscription, plans, and PATCHes what must move. */
export async function rotateCertificates(
  deps: AppDependencies,
  options: { readonly signal?: AbortSignal } = {},
): Promise<RotationSummary> {
  const { certificates, store, clock, log } = deps;
  const rows: StoredSubscription[] = [];
  for (const tenantId of await store.tenants()) {
    let continuationToken: string | undefined;
    do {
      const page = await store.list({ tenantId, pageSize, continuationToken });
      for (const row of page.items) {
        if (row.definition.encryptionCertificateSource !== undefined) rows.push(row);
      }
      continuationToken = page.continuationToken;
    } while (continuationToken !== undefined);
  }
  const empty = { checked: 0, rotated: 0, failed: 0, unavailable: 0, expiringWithoutSuccessor: 0 };
  if (rows.length === 0 || certificates === undefined) return { ...empty, checked: rows.length };

  const current = new Map<string, ResolvedCertificate>();
  let unavailable = 0;
  const references = new Map<string, CertificateReference>();
  for (const row of rows) {
    const reference = row.definition.encryptionCertificateSource;
    if (reference !== undefined) references.set(referenceKey(reference), reference);
  }
  for (const [key, reference] of references) {
    try {
      current.set(key, await certificates.resolve(reference));
    } catch (e) {
      if (!isCertificateUnavailableError(e)) throw e;
      unavailable += 1;
      log.warn('certificate could not be read; subscriptions keep the one they have', {
        certificate: describeReference(reference),
        error: e.message,
      });
    }
  }

  const now = clock.now();
  const plan = planRotation(rows, current, now, deps.config.certificates.rotationMarginMs);
  for (const item of plan.expiringWithoutSuccessor) {
    log.warn('certificate expires soon and there is no newer one to rotate to', {
      certificate: item.reference,
      notAfter: item.notAfter.toISOString(),
    });
  }
  const byKey = new Map(rows.map((r) => [`${r.definition.tenantId}|${r.definition.key}`, r]));
  let rotated = 0;
  let failed = 0;
  const queue = [...plan.rotate];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (options.signal?.aborted === true) return;
      const row = byKey.get(`${next.tenantId}|${next.key}`);
      if (row === undefined) continue;
      try {
        const result = await applyDefinition(deps, stripResolved(row));
        if (result.subscription.definition.encryptionCertificateId === next.to) rotated += 1;
        else failed += 1;
      } catch (e) {
        if (!isOperationError(e)) throw e;
        failed += 1;
        log.warn('certificate rotation failed; retried at the next sweep', {
          tenantId: next.tenantId,
          key: next.key,
          code: e.code,
        });
      }
    }
  };
  const workers = Math.max(1, deps.sweepOptions.concurrencyPerTenant);
  await Promise.all(Array.from({ length: Math.min(workers, queue.length) }, worker));
  if (plan.rotate.length > 0) {
    log.info('certificates rotated', { rotated, failed, certificatesRead: current.size });
  }
  return {
    checked: rows.length,
    rotated,
    failed,
    unavailable,
    expiringWithoutSuccessor: plan.expiringWithoutSuccessor.length,
  };
}

/** The owner's definition: the reference, without the certificate resolved from it last time. */
function stripResolved(row: ManagedSubscription): ManagedSubscription['definition'] {
  const { encryptionCertificate: _c, encryptionCertificateId: _i, ...rest } = row.definition;
  return rest;
}
